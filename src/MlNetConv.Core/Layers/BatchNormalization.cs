using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>BatchNormalization</c> over the channel axis: input (C, H, W) per sample normalizes each channel over the
/// batch and its H·W positions; input (D) normalizes each feature over the batch. Training uses the batch's mean and
/// (biased) variance and moves the moving statistics: moving ← moving·momentum + batch·(1 − momentum); prediction
/// uses the moving statistics. Trainable: γ (scale) and β (center), C each; non-trainable: the moving mean and
/// variance, C each (saved with the model, counted as non-trainable). Keras's defaults: momentum 0.99, ε 1e-3,
/// γ ones, β zeros, moving mean zeros, moving variance ones.
/// </summary>
/// <example><c>new BatchNormalization()</c> on (32, 28, 28) has 128 weights: 64 trainable, 64 non-trainable.</example>
public sealed class BatchNormalization : Layer
{
    /// <summary>A batch normalization over the channel axis (axis 1 of (N, C, H, W) or of (N, D), Keras's channels-first axis).</summary>
    /// <param name="axis">The normalized axis: 1 (channels of an image, features of a flat input), or −1 on a flat input.</param>
    /// <param name="momentum">Weight of the old moving statistics per training batch, in [0, 1).</param>
    /// <param name="epsilon">Added to the variance, positive.</param>
    /// <param name="center">Whether β is learned (else 0).</param>
    /// <param name="scale">Whether γ is learned (else 1).</param>
    /// <param name="name">The layer's name; by default "batch_normalization", "batch_normalization_1", ….</param>
    public BatchNormalization(int axis = 1, double momentum = 0.99, double epsilon = 1e-3, bool center = true, bool scale = true, string? name = null)
        : base(name)
    {
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{Describe()}: the momentum must be in [0, 1).");
        if (!(epsilon > 0 && double.IsFinite(epsilon)))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"{Describe()}: epsilon must be positive and finite.");
        Axis = axis;
        Momentum = momentum;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
    }

    /// <summary>The normalized axis as given.</summary>
    public int Axis { get; }

    /// <summary>Weight of the old moving statistics per training batch.</summary>
    public double Momentum { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public double Epsilon { get; }

    /// <summary>Whether β is learned.</summary>
    public bool Center { get; }

    /// <summary>Whether γ is learned.</summary>
    public bool Scale { get; }

    /// <inheritdoc />
    public override string TypeName => "BatchNormalization";

    /// <summary>Channels (or features) normalized.</summary>
    private int Channels => InputShape.Channels;

    /// <summary>Values per channel per sample: H·W for images, 1 for flat inputs.</summary>
    private int Area => InputShape.Size / InputShape.Channels;

    /// <inheritdoc />
    public override int ParameterCount => ((Scale ? 1 : 0) + (Center ? 1 : 0)) * Channels;

    /// <inheritdoc />
    public override int NonTrainableParameterCount => 2 * Channels;

    /// <summary>γ per channel (ones when not learned).</summary>
    public float[] Gamma => Scale ? Parameters.AsSpan(0, Channels).ToArray() : [.. Enumerable.Repeat(1f, Channels)];

    /// <summary>β per channel (zeros when not learned).</summary>
    public float[] Beta => Center ? Parameters.AsSpan(Scale ? Channels : 0, Channels).ToArray() : new float[Channels];

    /// <summary>The moving mean per channel (a copy).</summary>
    public float[] MovingMean => State.AsSpan(0, Channels).ToArray();

    /// <summary>The moving variance per channel (a copy).</summary>
    public float[] MovingVariance => State.AsSpan(Channels, Channels).ToArray();

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        bool flat = input.Rank == 1;
        if (input.Rank != 3 && !flat) throw ShapeError(input, "it needs an image (channels, height, width) or a flat input");
        if (Axis != 1 && !(flat && Axis == -1))
            throw ShapeError(input, flat
                ? $"axis {Axis} does not exist on a flat input (N, D); use axis 1 (or -1), the features"
                : $"axis {Axis} is not the channel axis; MlNetConv normalizes axis 1, the channels of (N, C, H, W)");
        return input;
    }

    /// <inheritdoc />
    public override Layer Clone() => new BatchNormalization(Axis, Momentum, Epsilon, Center, Scale, Name);

    internal override void InitializeParameters(Random random)
    {
        if (Scale) Parameters.AsSpan(0, Channels).Fill(1f);
        if (Center) Parameters.AsSpan(Scale ? Channels : 0, Channels).Clear();
        State.AsSpan(0, Channels).Clear();
        State.AsSpan(Channels, Channels).Fill(1f);
    }

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) => new Buffers(this, training);

    // Normalization then ReLU is two passes over a block's whole output; fused, each value goes through memory once each
    // way. Not on flat inputs: there each channel's values are single numbers, one call each, and the pass is small anyway.
    // Only ReLU (and the identity): max(y, 0) has the same bits however the values are sliced, while TensorPrimitives'
    // sigmoid and tanh take a scalar path on spans shorter than a vector, so a channel's values could round differently.
    internal override bool FusesInTraining(Layer next) =>
        InputShape.Rank == 3 && next is ActivationLayer { Activation: Activation.Relu or Activation.Linear };

    internal override bool InfersImageByImage => true;

    // The moving statistics' scale and shift per channel, once per batch.
    internal override void BeginImageByImage(LayerPass pass)
    {
        var buffers = (Buffers)pass.Buffers!;
        for (int c = 0; c < Channels; c++)
            (buffers.Scales[c], buffers.Shifts[c]) = Affine(c, State[c], InverseStd(State[Channels + c]));
    }

    internal override void InferImage(LayerPass pass, ReadOnlySpan<float> x, Span<float> y, int first, int end)
    {
        var buffers = (Buffers)pass.Buffers!;
        for (int c = first; c < end; c++) BatchNormKernels.Normalize(x, y, 1, Channels, Area, c, buffers.Scales[c], buffers.Shifts[c]);
    }

    // Channel c as y = x·scale + shift, from the statistics μ and 1/√(σ² + ε) (the batch's in training, the moving ones otherwise).
    private (float Scale, float Shift) Affine(int c, float mean, float inverseStd)
    {
        float scale = GammaAt(c) * inverseStd;
        return (scale, BetaAt(c) - mean * scale);
    }

    private float InverseStd(float variance) => (float)(1 / Math.Sqrt(variance + Epsilon));

    internal override void ForwardPass(LayerPass pass) => pass.Pool.Run(((Buffers)pass.Buffers!).Bind(pass).ForwardWork, Channels);

    internal override void BackwardPass(LayerPass pass) => pass.Pool.Run(((Buffers)pass.Buffers!).Bind(pass).BackwardWork, Channels);

    internal override void WriteConfig(BinaryWriter writer)
    {
        writer.Write(Axis);
        writer.Write(Momentum);
        writer.Write(Epsilon);
        writer.Write(Center);
        writer.Write(Scale);
    }

    /// <summary>
    /// ONNX BatchNormalization with the moving statistics (prediction's formula, over axis 1 of (N, C, H, W) or (N, D)),
    /// kept as its own operator rather than folded into a neighbour: the graph reads like the model, and runtimes fold it.
    /// </summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        string[] inputs =
        [
            input,
            graph.AddInitializer($"{Name}/gamma", Gamma, Channels),
            graph.AddInitializer($"{Name}/beta", Beta, Channels),
            graph.AddInitializer($"{Name}/moving_mean", MovingMean, Channels),
            graph.AddInitializer($"{Name}/moving_variance", MovingVariance, Channels),
        ];
        string output = graph.AddValue(Name, OutputShape);
        graph.AddNode("BatchNormalization", Name, inputs, [output]).Attribute("epsilon", (float)Epsilon);
        return output;
    }

    internal static BatchNormalization ReadConfig(BinaryReader reader, string name) =>
        new(reader.ReadInt32(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadBoolean(), reader.ReadBoolean(), name);

    private float GammaAt(int c) => Scale ? Parameters[c] : 1f;

    private float BetaAt(int c) => Center ? Parameters[(Scale ? Channels : 0) + c] : 0f;

    private sealed class Buffers : LayerBuffers
    {
        private readonly BatchNormalization layer;
        private readonly float[]? mean, inverseStd; // per channel: the statistics the training forward pass used
        private LayerPass pass = null!;

        public Buffers(BatchNormalization layer, bool training)
        {
            this.layer = layer;
            if (training) (mean, inverseStd) = (new float[layer.Channels], new float[layer.Channels]);
            else (Scales, Shifts) = (new float[layer.Channels], new float[layer.Channels]);
            ForwardWork = new Work<Buffers>(this, static (b, c) => b.Forward(c));
            BackwardWork = new Work<Buffers>(this, static (b, c) => b.Backward(c));
        }

        public IParallelWork ForwardWork { get; }

        /// <summary>Inference run image by image: each channel's scale (<see cref="BeginImageByImage"/>).</summary>
        public float[] Scales { get; } = null!;

        /// <summary>Inference run image by image: each channel's shift.</summary>
        public float[] Shifts { get; } = null!;

        public IParallelWork BackwardWork { get; }

        // The fused activation layer is a ReLU or the identity (FusesInTraining), the identity needing nothing.
        private static bool IsRelu(LayerPass fused) => ((ActivationLayer)fused.Layer).Activation == Activation.Relu;

        public Buffers Bind(LayerPass current)
        {
            pass = current;
            return this;
        }

        // Channel c: the batch's statistics (moving the moving ones) in training, the moving ones otherwise.
        private void Forward(int c)
        {
            BatchNormalization l = layer;
            int channels = l.Channels, area = l.Area, batch = pass.Batch;
            float mu, variance;
            if (pass.Training)
            {
                (mu, variance) = BatchNormKernels.Moments(pass.Input, batch, channels, area, c);
                float keep = (float)l.Momentum;
                l.State[c] = l.State[c] * keep + mu * (1 - keep);
                l.State[channels + c] = l.State[channels + c] * keep + variance * (1 - keep);
            }
            else
                (mu, variance) = (l.State[c], l.State[channels + c]);
            float inverse = l.InverseStd(variance);
            if (mean is not null)
            {
                mean[c] = mu;
                inverseStd![c] = inverse;
            }
            var (scale, shift) = l.Affine(c, mu, inverse);
            if (pass.Training && pass.Fused is { } fused)
                BatchNormKernels.Normalize(pass.Input, fused.Output, batch, channels, area, c, scale, shift, relu: IsRelu(fused));
            else
                BatchNormKernels.Normalize(pass.Input, pass.Output, batch, channels, area, c, scale, shift);
        }

        private void Backward(int c)
        {
            BatchNormalization l = layer;
            int channels = l.Channels;
            LayerPass? fused = pass.Fused;
            // A fused ReLU's mask comes from x through the forward pass's own scale and shift (the same floats again).
            BatchNormKernels.ReluAfter? relu = null;
            if (fused is not null && IsRelu(fused))
            {
                var (scale, shift) = l.Affine(c, mean![c], inverseStd![c]);
                relu = new BatchNormKernels.ReluAfter(scale, shift);
            }
            var (dGamma, dBeta) = BatchNormKernels.Backward(pass.Input, (fused ?? pass).OutputGradient, pass.InputGradient ?? default,
                pass.Batch, channels, l.Area, c, mean![c], inverseStd![c], l.GammaAt(c), batchStatistics: pass.Training, relu);
            ArraySegment<float> gradients = pass.ParameterGradients;
            if (l.Scale) gradients[c] = dGamma;
            if (l.Center) gradients[(l.Scale ? channels : 0) + c] = dBeta;
        }
    }
}
