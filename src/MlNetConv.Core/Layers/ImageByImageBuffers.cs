using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>One image's forward pass of a pooling layer: y from x, keeping per-output indices when it needs them.</summary>
internal delegate void ImageForward(ReadOnlySpan<float> x, Span<float> y, Span<int> indices);

/// <summary>One image's backward pass of a pooling layer: dX from dY and the indices the forward pass kept.</summary>
internal delegate void ImageBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx);

/// <summary>
/// The buffers and the per-image parallel loop of a layer that works image by image (the pooling layers): optional
/// per-output indices for the backward pass (max pooling's winners), kept only in training.
/// </summary>
internal sealed class ImageByImageBuffers : LayerBuffers
{
    private readonly Layer layer;
    private readonly ImageForward forward;
    private readonly ImageBackward backward;
    private readonly int[]? indices;
    private LayerPass pass = null!;

    public ImageByImageBuffers(Layer layer, ImageForward forward, ImageBackward backward, int[]? indices)
    {
        (this.layer, this.forward, this.backward, this.indices) = (layer, forward, backward, indices);
        ForwardWork = new Work<ImageByImageBuffers>(this, static (b, n) => b.Forward(n));
        BackwardWork = new Work<ImageByImageBuffers>(this, static (b, n) => b.Backward(n));
    }

    /// <summary>Runs the forward pass over the batch's images on the pass's pool.</summary>
    public static void RunForward(LayerPass pass)
    {
        var buffers = (ImageByImageBuffers)pass.Buffers!;
        buffers.pass = pass;
        pass.Pool.Run(buffers.ForwardWork, pass.Batch);
    }

    /// <summary>Runs the backward pass over the batch's images, unless nobody needs dX (a first layer).</summary>
    public static void RunBackward(LayerPass pass)
    {
        if (pass.InputGradient is null) return;
        var buffers = (ImageByImageBuffers)pass.Buffers!;
        buffers.pass = pass;
        pass.Pool.Run(buffers.BackwardWork, pass.Batch);
    }

    private IParallelWork ForwardWork { get; }

    private IParallelWork BackwardWork { get; }

    private void Forward(int n)
    {
        int inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size;
        forward(pass.Input.AsSpan(n * inSize, inSize), pass.Output.AsSpan(n * outSize, outSize),
            indices is null ? default : indices.AsSpan(n * outSize, outSize));
    }

    private void Backward(int n)
    {
        int inSize = layer.InputShape.Size, outSize = layer.OutputShape.Size;
        backward(pass.OutputGradient.AsSpan(n * outSize, outSize), indices is null ? default : indices.AsSpan(n * outSize, outSize),
            pass.InputGradient.AsSpan(n * inSize, inSize));
    }
}
