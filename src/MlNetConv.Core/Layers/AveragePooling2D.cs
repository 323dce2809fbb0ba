using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>AveragePooling2D</c>: the mean of each window, per channel, over in-image positions only (padding
/// does not dilute the mean). Input (C, H, W), output (C, OH, OW); no parameters.
/// </summary>
public sealed class AveragePooling2D : Pooling2D
{
    /// <summary>A square pool; strides default to the pool size.</summary>
    public AveragePooling2D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid, string? name = null)
        : this((poolSize, poolSize), strides is int s ? (s, s) : null, padding, name)
    {
    }

    /// <summary>Any pool size and strides, as (rows, columns).</summary>
    public AveragePooling2D((int Rows, int Columns) poolSize, (int Rows, int Columns)? strides, Padding padding = Padding.Valid, string? name = null)
        : base(poolSize, strides, padding, name)
    {
    }

    /// <inheritdoc />
    public override string TypeName => "AveragePooling2D";

    // count_include_pad = 0, ONNX's default: a window over the padding averages its real values only, as Keras does.
    private protected override string OnnxOperator => "AveragePool";

    /// <inheritdoc />
    public override Layer Clone() => new AveragePooling2D(PoolSize, Strides, Padding, Name);

    private protected override void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices, int channels) =>
        Pooling2DKernels.AverageForward(x, y, channels, Window);

    private protected override void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx) =>
        Pooling2DKernels.AverageBackward(dy, dx, InputShape.Channels, Window);

    internal static AveragePooling2D ReadConfig(BinaryReader reader, string name)
    {
        var (pool, strides, padding) = ReadPoolingConfig(reader);
        return new AveragePooling2D(pool, strides, padding, name);
    }
}
