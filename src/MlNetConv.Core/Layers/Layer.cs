using System.Text.RegularExpressions;
using MlNetConv.Core.Onnx;
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

    /// <summary>Whether the layer is built for an input shape: in a model, or on its own by <see cref="Build"/>.</summary>
    public bool IsBuilt { get; private set; }

    /// <summary>The shape of one input sample (after building).</summary>
    public Shape InputShape { get; private set; }

    /// <summary>The shape of one output sample (after building).</summary>
    public Shape OutputShape { get; private set; }

    /// <summary>Trainable floats (after building): what gradients and optimizers cover.</summary>
    public virtual int ParameterCount => 0;

    /// <summary>
    /// Floats the layer keeps but does not train (after building): BatchNormalization's moving mean and variance.
    /// Saved with the model and counted by the summary as non-trainable, as Keras does.
    /// </summary>
    public virtual int NonTrainableParameterCount => 0;

    /// <summary>This layer's parameters: a slice of its model's one buffer, or its own after a standalone <see cref="Build"/>.</summary>
    private protected ArraySegment<float> Parameters { get; private set; }

    /// <summary>The layer's non-trainable values (<see cref="NonTrainableParameterCount"/> of them), its own, allocated when built.</summary>
    private protected float[] State { get; private set; } = [];

    /// <summary>The function applied last in this layer; a softmax here on the model's last layer fuses into the loss.</summary>
    internal virtual Activation OutputActivation => Activation.Linear;

    /// <summary>
    /// The output shape for an input shape, or an <see cref="ArgumentException"/> naming this layer and the shapes.
    /// Pure: it never changes the layer, built or not.
    /// </summary>
    public abstract Shape ComputeOutputShape(Shape input);

    /// <summary>
    /// Builds the layer on its own, outside a model, for one input sample's <paramref name="input"/> shape: its parameters
    /// get a buffer of their own, initialised as Keras does (Glorot-uniform kernels from <paramref name="seed"/>, zero biases).
    /// Then <see cref="Forward"/> and <see cref="SetWeights"/> work. A layer is built once.
    /// </summary>
    public void Build(Shape input, int seed = 42)
    {
        BuildShape(input);
        BindParameters(new float[ParameterCount]);
        InitializeParameters(new Random(seed));
    }

    /// <summary>Keras's to_snake_case: "Conv2D" → "conv2d", "MaxPooling2D" → "max_pooling2d".</summary>
    internal string DefaultNamePrefix =>
        LowerUpper().Replace(WordStart().Replace(TypeName, "$1_$2"), "$1_$2").ToLowerInvariant();

    /// <summary>Fixes the layer's input shape and geometry, once; the parameters are bound separately.</summary>
    internal void BuildShape(Shape input)
    {
        if (IsBuilt) throw new InvalidOperationException($"{Describe()} is already built for input {InputShape}; create a new layer (or Clone this one).");
        OutputShape = ComputeOutputShape(input);
        InputShape = input;
        OnBuild(input);
        State = new float[NonTrainableParameterCount];
        IsBuilt = true;
    }

    /// <summary>Keeps the geometry <see cref="ComputeOutputShape"/> worked out, for the input the layer is built for.</summary>
    private protected virtual void OnBuild(Shape input)
    {
    }

    internal void BindParameters(ArraySegment<float> parameters)
    {
        Parameters = parameters;
        ParametersChanged();
    }

    /// <summary>
    /// Changes with every write to the parameters (<see cref="ParametersChanged"/>), so what is derived from them (the
    /// Winograd transform of a kernel) is remade only when they changed, without comparing them.
    /// </summary>
    internal long ParameterVersion { get; private set; }

    /// <summary>Says the parameters were written: every writer calls it (SetWeights, an optimizer's update, a restore).</summary>
    internal void ParametersChanged() => ParameterVersion++;

    /// <summary>A new, unbuilt layer with this one's configuration and name (Keras's <c>from_config(get_config())</c>).</summary>
    public abstract Layer Clone();

    /// <summary>A copy of this layer's parameters (Keras's <c>get_weights</c>, flattened): kernel first, then bias.</summary>
    /// <remarks>Non-trainable values follow the trainable ones (BatchNormalization: γ, β, moving mean, moving variance).</remarks>
    public float[] GetWeights() => [.. Parameters.AsSpan(), .. State];

    /// <summary>
    /// Replaces this layer's weights (Keras's <c>set_weights</c>, flattened: kernel first, then bias, then any
    /// non-trainable values); the length must be <see cref="ParameterCount"/> + <see cref="NonTrainableParameterCount"/>
    /// and every value finite.
    /// </summary>
    public void SetWeights(ReadOnlySpan<float> weights)
    {
        if (!IsBuilt) throw new InvalidOperationException($"{Describe()} has no weights until it is part of a model or built with Build(inputShape).");
        int count = ParameterCount + NonTrainableParameterCount;
        if (weights.Length != count)
            throw new ArgumentException($"{Describe()} has {count} weights ({ParameterCount} trainable); got {weights.Length} values.", nameof(weights));
        if (Finite.IndexOfFirstNonFinite(weights) is int i and >= 0)
            throw new ArgumentException($"{Describe()}: weight {i} is {weights[i]}; weights must be finite.", nameof(weights));
        weights[..ParameterCount].CopyTo(Parameters);
        weights[ParameterCount..].CopyTo(State);
        ParametersChanged();
    }

    /// <summary>
    /// Runs the layer on a batch: <paramref name="input"/> holds <paramref name="batch"/> samples of <see cref="InputShape"/>
    /// (N, C, H, W, or N, D for flat samples), and <paramref name="output"/> receives N samples of <see cref="OutputShape"/>.
    /// In training mode dropout drops, with its mask drawn from <paramref name="seed"/>; otherwise the layer runs as in
    /// prediction. The returned tape keeps what <see cref="LayerTape.Backward"/> needs. Every call allocates the tape's
    /// buffers: this is the API for studying, testing and custom code; a model runs its layers without copies.
    /// </summary>
    public LayerTape Forward(ReadOnlySpan<float> input, Span<float> output, int batch, bool training = false, int seed = 0)
    {
        if (!IsBuilt) throw new InvalidOperationException($"{Describe()} is not built; call Build(inputShape) or put it in a model.");
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var tape = new LayerTape(this, batch, training, seed);
        tape.Run(input, output);
        return tape;
    }

    /// <summary>Keras defaults: Glorot-uniform kernels and zero biases.</summary>
    internal virtual void InitializeParameters(Random random) { }

    /// <summary>Per-batch scratch this layer needs in a workspace holding up to <paramref name="capacity"/> samples.</summary>
    internal virtual LayerBuffers? CreateBuffers(int capacity, bool training, int threads) => null;

    internal abstract void ForwardPass(LayerPass pass);

    /// <summary>
    /// Whether this layer's inference forward pass can run the layers after it that work image by image
    /// (<see cref="LayerPass.Followers"/>) on each image as soon as it has computed it.
    /// </summary>
    internal virtual bool LeadsImageByImage => false;

    /// <summary>Whether <see cref="InferImage"/> gives this layer's inference output, image by image and channel by channel.</summary>
    internal virtual bool InfersImageByImage => false;

    /// <summary>
    /// Once per batch, before the leading layer's pass runs this layer image by image: what is the same for every image
    /// (normalization's scale and shift per channel), made once into <paramref name="pass"/>'s buffers.
    /// </summary>
    internal virtual void BeginImageByImage(LayerPass pass) { }

    /// <summary>
    /// Channels [first, end) of one image's inference output <paramref name="y"/> from its input <paramref name="x"/>
    /// (each a whole image), the same bits as the layer's own pass over the batch; <paramref name="pass"/> is this
    /// layer's, after <see cref="BeginImageByImage"/>.
    /// </summary>
    internal virtual void InferImage(LayerPass pass, ReadOnlySpan<float> x, Span<float> y, int first, int end) =>
        throw new NotSupportedException($"{Describe()} does not work image by image.");

    /// <summary>
    /// Whether, in training, this layer's passes can also run <paramref name="next"/>, the layer right after it
    /// (<see cref="LayerPass.Fused"/>), saving that layer's own passes over the batch.
    /// </summary>
    internal virtual bool FusesInTraining(Layer next) => false;

    /// <summary>Fills <see cref="LayerPass.ParameterGradients"/> and, when <see cref="LayerPass.InputGradient"/> is set, dX.</summary>
    internal abstract void BackwardPass(LayerPass pass);

    /// <summary>Writes the layer's configuration (not its weights) for the network format.</summary>
    internal abstract void WriteConfig(BinaryWriter writer);

    /// <summary>
    /// Adds the ONNX nodes that compute this layer's prediction after value <paramref name="input"/> (N samples of
    /// <see cref="InputShape"/>); returns the value holding its output. A layer that does nothing in prediction returns
    /// <paramref name="input"/>.
    /// </summary>
    internal abstract string ToOnnx(IOnnxGraph graph, string input);

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

    /// <summary>Where the backward pass writes dL/dParameters (overwritten, not accumulated): kernel, then bias.</summary>
    public ArraySegment<float> ParameterGradients { get; init; }

    /// <summary>
    /// Set on a softmax output layer trained with cross-entropy: <see cref="OutputGradient"/> is then already with respect
    /// to the pre-softmax values, so the backward pass skips the softmax.
    /// </summary>
    public bool OutputGradientIsPreActivation { get; init; }

    public LayerBuffers? Buffers { get; init; }

    public required WorkerPool Pool { get; set; }

    public int Batch { get; set; }

    public bool Training { get; set; }

    /// <summary>The layer this pass runs.</summary>
    public required Layer Layer { get; init; }

    /// <summary>
    /// Inference only, set by the forward loop when this layer <see cref="Layer.LeadsImageByImage"/>: the passes of the
    /// layers after it that work image by image (<see cref="Layer.InfersImageByImage"/>: normalization, activation,
    /// pooling) and whose outputs are wanted, run on each image as soon as this layer has computed it, while it is still
    /// in cache, instead of their own passes over the whole batch. This layer's and all but the last follower's outputs
    /// then hold only scratch: each chunk of work uses the place of its own first image.
    /// </summary>
    public ArraySegment<LayerPass> Followers { get; set; }

    /// <summary>
    /// Training only, set by the workspace when this layer <see cref="Layer.FusesInTraining"/> the next one: that layer's
    /// pass, whose own passes are then skipped. The same bits as the two passes, with fewer trips through memory. So far
    /// one pair: a normalization of images before a ReLU (or identity) <see cref="ActivationLayer"/> writes the activation
    /// of its output into that pass's output, and its backward pass starts from that pass's output gradient, taking it
    /// through the activation itself; this layer's output and output gradient are then empty arrays (Workspace).
    /// </summary>
    public LayerPass? Fused { get; set; }

    /// <summary>The model's training random stream (dropout masks), used on the calling thread only.</summary>
    public Random? Random { get; set; }
}
