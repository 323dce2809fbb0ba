using System.Text.RegularExpressions;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// A layer of a <see cref="Sequential"/> model: a configuration (Keras's names and defaults), an output shape
/// computed from the input shape, its parameters (a slice of the model's one parameter buffer), and forward and
/// backward passes over a batch. Per-batch data lives in the model's workspaces, not in the layer, so one trained
/// layer can serve several predicting threads at once.
/// </summary>
public abstract partial class Layer
{
    private protected Layer(string? name) => Name = name ?? "";

    /// <summary>The layer's name: the one given, or Keras-style "conv2d", "conv2d_1", … assigned by the model.</summary>
    public string Name { get; internal set; }

    /// <summary>The Keras class name, e.g. "Conv2D".</summary>
    public abstract string TypeName { get; }

    /// <summary>Whether the layer has been attached to a model with a known input shape.</summary>
    public bool IsBuilt { get; private set; }

    /// <summary>The shape of one input sample (after building).</summary>
    public Shape InputShape { get; private set; }

    /// <summary>The shape of one output sample (after building).</summary>
    public Shape OutputShape { get; private set; }

    /// <summary>Trainable floats (after building).</summary>
    public virtual int ParameterCount => 0;

    /// <summary>This layer's parameters inside the model's buffer.</summary>
    private protected ArraySegment<float> Parameters { get; private set; }

    /// <summary>This layer's gradients inside the model's gradient buffer, overwritten by every backward pass.</summary>
    private protected ArraySegment<float> Gradients { get; private set; }

    /// <summary>
    /// Set by the model on a softmax output layer trained with cross-entropy: the gradient it receives is already
    /// with respect to the pre-softmax values, so its backward pass skips the softmax.
    /// </summary>
    internal bool OutputGradientIsPreActivation { get; set; }

    /// <summary>The function applied last in this layer; a softmax here on the model's last layer fuses into the loss.</summary>
    internal virtual Activation OutputActivation => Activation.Linear;

    /// <summary>The output shape for an input shape, or an <see cref="ArgumentException"/> naming this layer and the shapes.</summary>
    public abstract Shape ComputeOutputShape(Shape input);

    /// <summary>Keras's to_snake_case: "Conv2D" → "conv2d", "MaxPooling2D" → "max_pooling2d".</summary>
    internal string DefaultNamePrefix =>
        LowerUpper().Replace(WordStart().Replace(TypeName, "$1_$2"), "$1_$2").ToLowerInvariant();

    internal void Build(Shape input)
    {
        OutputShape = ComputeOutputShape(input);
        InputShape = input;
        IsBuilt = true;
    }

    internal void BindParameters(ArraySegment<float> parameters, ArraySegment<float> gradients)
    {
        Parameters = parameters;
        Gradients = gradients;
    }

    /// <summary>A new, unbuilt layer with this one's configuration and name (Keras's <c>from_config(get_config())</c>).</summary>
    public Layer Clone()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) WriteConfig(writer);
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        return Serialization.NetworkFormat.ReadLayerConfig(Serialization.NetworkFormat.KindOf(this), reader, Name);
    }

    /// <summary>A copy of this layer's parameters (Keras's <c>get_weights</c>, flattened): kernel first, then bias.</summary>
    public float[] GetWeights() => Parameters.AsSpan().ToArray();

    /// <summary>
    /// Replaces this layer's parameters (Keras's <c>set_weights</c>, flattened: kernel first, then bias);
    /// the length must be <see cref="ParameterCount"/> and every value finite.
    /// </summary>
    public void SetWeights(ReadOnlySpan<float> weights)
    {
        if (!IsBuilt) throw new InvalidOperationException($"{Describe()} has no weights until it is part of a model.");
        if (weights.Length != ParameterCount)
            throw new ArgumentException($"{Describe()} has {ParameterCount} parameters; got {weights.Length} values.", nameof(weights));
        for (int i = 0; i < weights.Length; i++)
            if (!float.IsFinite(weights[i]))
                throw new ArgumentException($"{Describe()}: weight {i} is {weights[i]}; weights must be finite.", nameof(weights));
        weights.CopyTo(Parameters);
    }

    /// <summary>Keras defaults: Glorot-uniform kernels and zero biases.</summary>
    internal virtual void InitializeParameters(Random random) { }

    /// <summary>Per-batch scratch this layer needs in a workspace holding up to <paramref name="capacity"/> samples.</summary>
    internal virtual LayerBuffers? CreateBuffers(int capacity, bool training, int threads) => null;

    internal abstract void Forward(LayerPass pass);

    /// <summary>Fills <see cref="Gradients"/> and, when <see cref="LayerPass.InputGradient"/> is set, dX.</summary>
    internal abstract void Backward(LayerPass pass);

    /// <summary>Writes the layer's configuration (not its weights) for the network format.</summary>
    internal abstract void WriteConfig(BinaryWriter writer);

    /// <summary>A layer-specific error message prefix: "Layer 'conv2d' (Conv2D)".</summary>
    private protected string Describe() => string.IsNullOrEmpty(Name) ? $"Layer {TypeName}" : $"Layer '{Name}' ({TypeName})";

    private protected Exception ShapeError(Shape input, string requirement) =>
        new ArgumentException($"{Describe()} cannot take input of shape {input}: {requirement}.");

    private protected static void GlorotUniform(Span<float> weights, int fanIn, int fanOut, Random random)
    {
        float limit = MathF.Sqrt(6f / (fanIn + fanOut));
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(random.NextDouble() * 2 - 1) * limit;
    }

    [GeneratedRegex("(.)([A-Z][a-z]+)")]
    private static partial Regex WordStart();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex LowerUpper();
}

/// <summary>Per-batch scratch of one layer in one workspace (im2col matrices, winning indices, dropout masks).</summary>
internal abstract class LayerBuffers
{
}

/// <summary>
/// Everything one layer's forward or backward pass over a batch reads and writes. One instance per layer per
/// workspace, reused batch after batch. Arrays may be longer than <see cref="Batch"/> samples.
/// </summary>
internal sealed class LayerPass
{
    public required float[] Input { get; init; }

    public required float[] Output { get; init; }

    /// <summary>dL/dOutput; a layer may overwrite it during its backward pass.</summary>
    public float[]? OutputGradient { get; init; }

    /// <summary>dL/dInput, or null for the first layer, whose input gradient nobody needs.</summary>
    public float[]? InputGradient { get; init; }

    public LayerBuffers? Buffers { get; init; }

    public required WorkerPool Pool { get; set; }

    public int Batch { get; set; }

    public bool Training { get; set; }

    /// <summary>The model's training random stream (dropout masks), used on the calling thread only.</summary>
    public Random? Random { get; set; }
}
