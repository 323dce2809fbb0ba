using MlNetConv.Core.Layers;

namespace MlNetConv.Core;

/// <summary>
/// A batch's mean loss and dL/dParameters of every parameter of a model, from
/// <see cref="Sequential.ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{int}, float)"/>: <see cref="Values"/> holds them
/// layer by layer in the model's parameter order (each layer's kernel, then its bias), <see cref="Of"/> one layer's.
/// </summary>
public sealed class ModelGradients
{
    private readonly Dictionary<string, (int Offset, int Count)> layerRanges = [];

    internal ModelGradients(float loss, float[] values, IReadOnlyList<Layer> layers)
    {
        Loss = loss;
        Values = values;
        int offset = 0;
        foreach (Layer layer in layers)
        {
            layerRanges[layer.Name] = (offset, layer.ParameterCount);
            offset += layer.ParameterCount;
        }
    }

    /// <summary>The batch's mean cross-entropy.</summary>
    public float Loss { get; }

    /// <summary>Every gradient, in the model's parameter order; an optimizer's <c>ApplyGradients</c> takes this.</summary>
    public float[] Values { get; }

    /// <summary>The gradients of the named layer's parameters, in the order of its <see cref="Layer.GetWeights"/> (kernel, then bias).</summary>
    public ReadOnlyMemory<float> Of(string layerName) =>
        layerRanges.TryGetValue(layerName, out var range)
            ? Values.AsMemory(range.Offset, range.Count)
            : throw new ArgumentException($"No layer named '{layerName}'; the layers are {string.Join(", ", layerRanges.Keys)}.", nameof(layerName));
}
