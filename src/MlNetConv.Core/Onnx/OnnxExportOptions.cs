namespace MlNetConv.Core.Onnx;

/// <summary>What an exported ONNX model records besides the network.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// The class names by class index, stored in the model's metadata under <see cref="OnnxExport.ClassNamesKey"/> as a
    /// JSON array; one per output. Null stores none.
    /// </summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>The model's and its graph's documentation (<c>doc_string</c>); null writes the network summary.</summary>
    public string? Description { get; init; }

    /// <summary>The model's version (<c>model_version</c>), for those who serve several versions of one model.</summary>
    public long ModelVersion { get; init; } = 1;
}
