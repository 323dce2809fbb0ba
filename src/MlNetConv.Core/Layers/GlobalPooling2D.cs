using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// What Keras's global 2-D pooling layers share: each channel of an image reduced to one value, (C, H, W) → (C)
/// (Keras's <c>keepdims=False</c>), the per-image parallel loop and the buffers. No parameters.
/// </summary>
public abstract class GlobalPooling2D : Layer
{
    private protected GlobalPooling2D(string? name) : base(name)
    {
    }

    /// <summary>Values pooled per channel: H·W of the input (after building).</summary>
    private protected int Area => InputShape.Height * InputShape.Width;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) =>
        input.Rank == 3 ? Shape.Vector(input.Channels) : throw ShapeError(input, "it needs an image shape (channels, height, width)");

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new PoolBuffers(this, training ? CreateIndexBuffer(capacity) : null);

    /// <summary>Per-output indices the backward pass needs (max pooling), or null.</summary>
    private protected virtual int[]? CreateIndexBuffer(int capacity) => null;

    internal override void ForwardPass(LayerPass pass) => pass.Pool.Run(((PoolBuffers)pass.Buffers!).Bind(pass).ForwardWork, pass.Batch);

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is not null) pass.Pool.Run(((PoolBuffers)pass.Buffers!).Bind(pass).BackwardWork, pass.Batch);
    }

    internal override void WriteConfig(BinaryWriter writer)
    {
    }

    private protected abstract void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices);

    private protected abstract void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx);

    private sealed class PoolBuffers : LayerBuffers
    {
        private readonly GlobalPooling2D layer;
        private readonly int[]? indices;
        private LayerPass pass = null!;

        public PoolBuffers(GlobalPooling2D layer, int[]? indices)
        {
            this.layer = layer;
            this.indices = indices;
            ForwardWork = new Work<PoolBuffers>(this, static (b, n) => b.Forward(n));
            BackwardWork = new Work<PoolBuffers>(this, static (b, n) => b.Backward(n));
        }

        public IParallelWork ForwardWork { get; }

        public IParallelWork BackwardWork { get; }

        public PoolBuffers Bind(LayerPass current)
        {
            pass = current;
            return this;
        }

        private void Forward(int n)
        {
            int inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size;
            layer.ForwardImage(pass.Input.AsSpan(n * inSize, inSize), pass.Output.AsSpan(n * outSize, outSize),
                indices is null ? default : indices.AsSpan(n * outSize, outSize));
        }

        private void Backward(int n)
        {
            int inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size;
            layer.BackwardImage(pass.OutputGradient.AsSpan(n * outSize, outSize),
                indices is null ? default : indices.AsSpan(n * outSize, outSize), pass.InputGradient.AsSpan(n * inSize, inSize));
        }
    }
}
