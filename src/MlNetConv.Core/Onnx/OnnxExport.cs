using System.Reflection;
using System.Text.Json;
using MlNetConv.Core.Layers;

namespace MlNetConv.Core.Onnx;

/// <summary>
/// Exports a trained model as ONNX, so it runs wherever ONNX runs (ONNX Runtime in C#, C++, Python, the browser,
/// mobile). The graph takes <see cref="InputName"/>, a float tensor (N, C, H, W) (or (N, D) for flat samples) with a
/// symbolic batch size N, holding the same values the model is fed (e.g. pixels scaled to [0, 1], channels first), and
/// gives <see cref="ProbabilitiesName"/>, (N, classes) floats: the last layer's outputs, class probabilities for a
/// softmax output; and <see cref="ClassIndexName"/>, (N) int64: the index of the highest. IR version 7, opset 13, only
/// operators of the default domain.
/// </summary>
/// <remarks>
/// Each layer becomes the ONNX operators that compute what its prediction does: Conv2D → Conv (Keras's asymmetric
/// "same" padding as explicit pads) and its activation; Dense → Gemm (MatMul without bias); MaxPooling2D → MaxPool;
/// AveragePooling2D → AveragePool (padding not counted, as in Keras); global pooling → GlobalMaxPool or
/// GlobalAveragePool then Flatten; Flatten → Flatten; BatchNormalization → BatchNormalization with the moving
/// statistics (kept as its own operator, not folded into the convolution, so the graph reads like the model and
/// runtimes fuse it themselves); activations → Relu, Sigmoid, Tanh, Softmax (axis 1). Dropout and the random
/// augmentation layers do nothing in prediction and vanish.
/// </remarks>
/// <example><code>model.ExportToOnnx("model.onnx", new OnnxExportOptions { ClassNames = FashionMnist.ClassNames });</code></example>
public static class OnnxExport
{
    /// <summary>The ONNX IR version written (7, ONNX 1.8).</summary>
    public const long IrVersion = 7;

    /// <summary>The opset of the default ONNX domain the graph imports.</summary>
    public const int OpsetVersion = 13;

    /// <summary>The graph input: (N, C, H, W) or (N, D) floats.</summary>
    public const string InputName = "input";

    /// <summary>The graph output of the last layer's values, (N, classes) floats.</summary>
    public const string ProbabilitiesName = "probabilities";

    /// <summary>The graph output of each sample's highest-scoring class index, (N) int64.</summary>
    public const string ClassIndexName = "class_index";

    /// <summary>The symbolic batch dimension's name.</summary>
    public const string BatchDimensionName = "N";

    /// <summary>The metadata key of the class names (a JSON array of strings).</summary>
    public const string ClassNamesKey = "class_names";

    /// <summary>The <c>producer_name</c> written.</summary>
    public const string ProducerName = "MlNetConv";

    /// <summary>Writes <paramref name="model"/> to <paramref name="stream"/> as an ONNX model.</summary>
    /// <exception cref="ArgumentException">The model's output is not a flat vector of at least two class scores, or
    /// <see cref="OnnxExportOptions.ClassNames"/> does not name each class once.</exception>
    public static void ExportToOnnx(this Sequential model, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new OnnxExportOptions();
        if (model.OutputShape.Rank != 1 || model.OutputShape.Size < 2)
            throw new ArgumentException($"Model '{model.Name}' outputs {model.OutputShape} per sample; ONNX export writes classifiers, whose last layer outputs a flat vector of at least 2 class scores.", nameof(model));
        if (options.ClassNames is { } names && names.Count != model.ClassCount)
            throw new ArgumentException($"Model '{model.Name}' scores {model.ClassCount} classes but {names.Count} class names were given.", nameof(options));

        var writer = new OnnxModelWriter();
        string input = writer.Reserve(InputName);
        string probabilities = writer.Reserve(ProbabilitiesName), classIndex = writer.Reserve(ClassIndexName);
        string last = AddNetwork(model, writer, input);
        if (last == input) writer.AddNode("Identity", ProbabilitiesName, [input], [probabilities]);
        else writer.Rename(last, probabilities);
        writer.AddNode("ArgMax", ClassIndexName, [probabilities], [classIndex]).Attribute("axis", 1L).Attribute("keepdims", 0L);

        var metadata = new List<(string, string)>();
        if (options.ClassNames is { } classNames) metadata.Add((ClassNamesKey, JsonSerializer.Serialize(classNames)));
        writer.Write(stream, new OnnxModelInfo(
            GraphName: model.Name,
            ProducerName: ProducerName,
            ProducerVersion: ProducerVersion,
            ModelVersion: options.ModelVersion,
            Description: options.Description ?? model.Summary(),
            Inputs: [(input, OnnxModelWriter.FloatType, OnnxModelWriter.BatchDimensions(model.InputShape))],
            Outputs:
            [
                (probabilities, OnnxModelWriter.FloatType, OnnxModelWriter.BatchDimensions(model.OutputShape)),
                (classIndex, OnnxModelWriter.Int64Type, [-1]),
            ],
            Metadata: metadata));
    }

    /// <summary>Writes <paramref name="model"/> to the file at <paramref name="path"/> (created or replaced) as an ONNX model.</summary>
    public static void ExportToOnnx(this Sequential model, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.Create(path);
        model.ExportToOnnx(file, options);
    }

    /// <summary>
    /// Adds the model's layers to <paramref name="graph"/> after value <paramref name="input"/>, all of them or those up to
    /// <paramref name="through"/>; returns the value of the last one added.
    /// </summary>
    internal static string AddNetwork(Sequential model, IOnnxGraph graph, string input, Layer? through = null)
    {
        string value = input;
        foreach (Layer layer in model.Layers)
        {
            value = layer.ToOnnx(graph, value);
            if (layer == through) break;
        }
        return value;
    }

    /// <summary>The MlNetConv version, e.g. "1.0.0" (the informational version without its source revision).</summary>
    internal static string ProducerVersion { get; } =
        typeof(OnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0";
}
