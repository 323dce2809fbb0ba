using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>GlobalMaxPooling2D</c>: the maximum of each channel, (C, H, W) → (C). The gradient goes to the first
/// maximum of a channel (ties are not split, as in MaxPooling2D). No parameters.
/// </summary>
public sealed class GlobalMaxPooling2D(string? name = null) : GlobalPooling2D(name)
{
    /// <inheritdoc />
    public override string TypeName => "GlobalMaxPooling2D";

    private protected override string OnnxOperator => "GlobalMaxPool";

    /// <inheritdoc />
    public override Layer Clone() => new GlobalMaxPooling2D(Name);

    private protected override int[] CreateIndexBuffer(int capacity) => new int[(long)capacity * OutputShape.Size];

    private protected override void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices) =>
        GlobalPooling2DKernels.MaxForward(x, y, indices, Area);

    private protected override void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx) =>
        GlobalPooling2DKernels.MaxBackward(dy, indices, dx, Area);
}
