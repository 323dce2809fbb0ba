using MlNetConv.Core;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv;

/// <summary>
/// A read-only view of the trained network inside a transformer: its Keras-style summary, layers with their shapes
/// and parameter counts, and copies of the weights. Nothing reached through it changes the transformer's predictions;
/// <see cref="CopyNetwork"/> gives an independent engine model for anything else (custom training, pictures).
/// </summary>
public sealed class NetworkInfo
{
    private readonly Sequential network;

    internal NetworkInfo(Sequential network)
    {
        this.network = network;
        Layers = [.. network.Layers.Select(layer => new LayerInfo(layer))];
    }

    /// <summary>The model's name in <see cref="Summary"/>.</summary>
    public string Name => network.Name;

    /// <summary>One input image's shape (C, H, W).</summary>
    public Shape InputShape => network.InputShape;

    /// <summary>One output's shape: (classes).</summary>
    public Shape OutputShape => network.OutputShape;

    /// <summary>All trainable parameters.</summary>
    public int ParameterCount => network.ParameterCount;

    /// <summary>The layers, input first.</summary>
    public IReadOnlyList<LayerInfo> Layers { get; }

    /// <summary>The Keras-style table of layers, output shapes (channels first) and parameter counts.</summary>
    public string Summary() => network.Summary();

    /// <summary>The layer named <paramref name="name"/>; the error lists the names there are.</summary>
    public LayerInfo GetLayer(string name)
    {
        string found = network.GetLayer(name).Name; // the engine's error names the layers there are
        return Layers.First(l => l.Name == found);
    }

    /// <summary>An independent engine copy of the network, weights included: changing it leaves the transformer as it is.</summary>
    public Sequential CopyNetwork()
    {
        using var buffer = new MemoryStream();
        network.Save(buffer);
        buffer.Position = 0;
        Sequential copy = Sequential.Load(buffer);
        copy.Threads = network.Threads;
        return copy;
    }
}

/// <summary>One layer of a <see cref="NetworkInfo"/>: its name, Keras type, shapes and parameter count, and a copy of its weights.</summary>
public sealed class LayerInfo
{
    private readonly Layer layer;

    internal LayerInfo(Layer layer) => this.layer = layer;

    /// <summary>The layer's name, e.g. "conv2d_1".</summary>
    public string Name => layer.Name;

    /// <summary>The Keras class name, e.g. "Conv2D".</summary>
    public string TypeName => layer.TypeName;

    /// <summary>One input sample's shape.</summary>
    public Shape InputShape => layer.InputShape;

    /// <summary>One output sample's shape.</summary>
    public Shape OutputShape => layer.OutputShape;

    /// <summary>Trainable floats.</summary>
    public int ParameterCount => layer.ParameterCount;

    /// <summary>A copy of the parameters (Keras's <c>get_weights</c>, flattened): kernel first, then bias.</summary>
    public float[] GetWeights() => layer.GetWeights();

    /// <summary>A new, unbuilt layer with this one's configuration, for building another model.</summary>
    public Layer CloneConfiguration() => layer.Clone();

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({TypeName}) {InputShape} → {OutputShape}, {ParameterCount} parameters";
}
