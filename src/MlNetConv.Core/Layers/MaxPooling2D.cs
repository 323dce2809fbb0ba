using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>MaxPooling2D</c>: the maximum of each window, per channel. The gradient goes to the first maximum
/// of each window (ties are not split). Input (C, H, W), output (C, OH, OW); no parameters.
/// </summary>
/// <example><c>new MaxPooling2D(2)</c> on (32, 28, 28) gives (32, 14, 14).</example>
public sealed class MaxPooling2D : Pooling2D
{
    /// <summary>A square pool; strides default to the pool size.</summary>
    public MaxPooling2D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid, string? name = null)
        : this((poolSize, poolSize), strides is int s ? (s, s) : null, padding, name)
    {
    }

    /// <summary>Any pool size and strides, as (rows, columns).</summary>
    public MaxPooling2D((int Rows, int Columns) poolSize, (int Rows, int Columns)? strides, Padding padding = Padding.Valid, string? name = null)
        : base(poolSize, strides, padding, name)
    {
    }

    /// <inheritdoc />
    public override string TypeName => "MaxPooling2D";

    /// <inheritdoc />
    public override Layer Clone() => new MaxPooling2D(PoolSize, Strides, Padding, Name);

    private protected override string OnnxOperator => "MaxPool";

    private protected override int[] CreateIndexBuffer(int capacity) => new int[(long)capacity * OutputShape.Size];

    private protected override void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices, int channels) =>
        Pooling2DKernels.MaxForward(x, y, indices, channels, Window);

    private protected override void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx) =>
        Pooling2DKernels.MaxBackward(dy, indices, dx, InputShape.Channels, Window);

    internal static MaxPooling2D ReadConfig(BinaryReader reader, string name)
    {
        var (pool, strides, padding) = ReadPoolingConfig(reader);
        return new MaxPooling2D(pool, strides, padding, name);
    }
}
