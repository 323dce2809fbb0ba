using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>Activation</c> layer: applies an activation on its own. Any shape (softmax: flat inputs only,
/// over each sample's values). No parameters.
/// </summary>
public sealed class ActivationLayer : Layer
{
    /// <summary>A layer that applies <paramref name="activation"/>.</summary>
    public ActivationLayer(Activation activation, string? name = null) : base(name)
    {
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        Activation = activation;
    }

    /// <summary>The function applied.</summary>
    public Activation Activation { get; }

    /// <inheritdoc />
    public override string TypeName => "Activation";

    internal override Activation OutputActivation => Activation;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (Activation == Activation.Softmax && input.Rank != 1) throw ShapeError(input, "softmax needs a flat input; put a Flatten layer before it");
        return input;
    }

    /// <inheritdoc />
    public override Layer Clone() => new ActivationLayer(Activation, Name);

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) => new Buffers(this);

    // Image by image on the pool: after a convolution this is a few megabytes a batch, too much for one core to stream.
    internal override void ForwardPass(LayerPass pass) => ((Buffers)pass.Buffers!).Run(pass, forward: true);

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is not null) ((Buffers)pass.Buffers!).Run(pass, forward: false);
    }

    internal override void WriteConfig(BinaryWriter writer) => writer.Write((byte)Activation);

    internal override string ToOnnx(IOnnxGraph graph, string input) => Activation.ToOnnx(graph, input, OutputShape, Name);

    internal static ActivationLayer ReadConfig(BinaryReader reader, string name) => new((Activation)reader.ReadByte(), name);

    internal override bool InfersImageByImage => Activation != Activation.Softmax; // softmax needs whole rows

    internal override void InferImage(LayerPass pass, ReadOnlySpan<float> x, Span<float> y, int first, int end)
    {
        int area = InputShape.Size / InputShape.Channels;
        Span<float> target = y[(first * area)..(end * area)];
        x[(first * area)..(end * area)].CopyTo(target);
        Activation.Forward(target, target.Length);
    }

    private sealed class Buffers : LayerBuffers
    {
        private readonly ActivationLayer layer;
        private readonly IParallelWork forwardWork, backwardWork;
        private LayerPass pass = null!;

        public Buffers(ActivationLayer layer)
        {
            this.layer = layer;
            forwardWork = new Work<Buffers>(this, static (b, n) => b.Forward(n));
            backwardWork = new Work<Buffers>(this, static (b, n) => b.Backward(n));
        }

        public void Run(LayerPass current, bool forward)
        {
            pass = current;
            current.Pool.Run(forward ? forwardWork : backwardWork, current.Batch);
        }

        private void Forward(int n)
        {
            int size = layer.InputShape.Size;
            Span<float> y = pass.Output.AsSpan(n * size, size);
            pass.Input.AsSpan(n * size, size).CopyTo(y);
            layer.Activation.Forward(y, size);
        }

        private void Backward(int n)
        {
            int size = layer.InputShape.Size;
            Span<float> dx = pass.InputGradient.AsSpan(n * size, size);
            if (pass.OutputGradientIsPreActivation) pass.OutputGradient.AsSpan(n * size, size).CopyTo(dx);
            else layer.Activation.Backward(pass.Output.AsSpan(n * size, size), pass.OutputGradient.AsSpan(n * size, size), dx, size);
        }
    }
}
