using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>Keras's <c>GlobalAveragePooling2D</c>: the mean of each channel, (C, H, W) → (C). No parameters.</summary>
/// <example><c>new GlobalAveragePooling2D()</c> on (64, 7, 7) gives (64).</example>
public sealed class GlobalAveragePooling2D(string? name = null) : GlobalPooling2D(name)
{
    /// <inheritdoc />
    public override string TypeName => "GlobalAveragePooling2D";

    private protected override string OnnxOperator => "GlobalAveragePool";

    /// <inheritdoc />
    public override Layer Clone() => new GlobalAveragePooling2D(Name);

    private protected override void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices) =>
        GlobalPooling2DKernels.AverageForward(x, y, Area);

    private protected override void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx) =>
        GlobalPooling2DKernels.AverageBackward(dy, dx, Area);
}
