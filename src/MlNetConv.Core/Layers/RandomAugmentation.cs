using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// What the augmentation layers share: in training each image gets its own random transform, drawn from the model's
/// seeded training stream on the calling thread (so a seed gives the same batches on any thread count), then applied
/// to the images in parallel; in prediction the layer is the identity. Images (C, H, W) only; no parameters.
/// </summary>
public abstract class RandomAugmentation : Layer
{
    private protected RandomAugmentation(string? name) : base(name)
    {
    }

    /// <summary>Random numbers drawn per image.</summary>
    private protected abstract int DrawsPerImage { get; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) =>
        input.Rank == 3 ? input : throw ShapeError(input, "it augments images (channels, height, width); put it before Flatten");

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new Buffers(this, training ? new float[capacity * DrawsPerImage] : null);

    internal override void ForwardPass(LayerPass pass)
    {
        int length = pass.Batch * InputShape.Size;
        var buffers = ((Buffers)pass.Buffers!).Bind(pass);
        if (!pass.Training)
        {
            pass.Input.AsSpan(0, length).CopyTo(pass.Output);
            return;
        }
        Random random = pass.Random ?? throw new InvalidOperationException($"{Describe()} needs the model's random stream in training.");
        Span<float> draws = buffers.Draws.AsSpan(0, pass.Batch * DrawsPerImage);
        for (int n = 0; n < pass.Batch; n++) Draw(random, draws.Slice(n * DrawsPerImage, DrawsPerImage));
        pass.Pool.Run(buffers.ForwardWork, pass.Batch);
    }

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is null) return;
        if (!pass.Training)
        {
            pass.OutputGradient.AsSpan(0, pass.Batch * InputShape.Size).CopyTo(pass.InputGradient);
            return;
        }
        pass.Pool.Run(((Buffers)pass.Buffers!).Bind(pass).BackwardWork, pass.Batch);
    }

    /// <summary>Augmentation is the identity in prediction: no node.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input) => input;

    /// <summary>Draws one image's transform into <paramref name="draws"/> (<see cref="DrawsPerImage"/> values).</summary>
    private protected abstract void Draw(Random random, Span<float> draws);

    /// <summary>Applies one image's transform: y = T(x).</summary>
    private protected abstract void Transform(ReadOnlySpan<float> draws, ReadOnlySpan<float> x, Span<float> y);

    /// <summary>Backpropagates through one image's transform: dX = Tᵀ(dY).</summary>
    private protected abstract void TransformBackward(ReadOnlySpan<float> draws, ReadOnlySpan<float> dy, Span<float> dx);

    private sealed class Buffers : LayerBuffers
    {
        private readonly RandomAugmentation layer;
        private LayerPass pass = null!;

        public Buffers(RandomAugmentation layer, float[]? draws)
        {
            this.layer = layer;
            Draws = draws ?? [];
            ForwardWork = new Work<Buffers>(this, static (b, n) => b.Forward(n));
            BackwardWork = new Work<Buffers>(this, static (b, n) => b.Backward(n));
        }

        public float[] Draws { get; }

        public IParallelWork ForwardWork { get; }

        public IParallelWork BackwardWork { get; }

        public Buffers Bind(LayerPass current)
        {
            pass = current;
            return this;
        }

        private void Forward(int n)
        {
            int size = layer.InputShape.Size, k = layer.DrawsPerImage;
            layer.Transform(Draws.AsSpan(n * k, k), pass.Input.AsSpan(n * size, size), pass.Output.AsSpan(n * size, size));
        }

        private void Backward(int n)
        {
            int size = layer.InputShape.Size, k = layer.DrawsPerImage;
            layer.TransformBackward(Draws.AsSpan(n * k, k), pass.OutputGradient.AsSpan(n * size, size), pass.InputGradient.AsSpan(n * size, size));
        }
    }
}
