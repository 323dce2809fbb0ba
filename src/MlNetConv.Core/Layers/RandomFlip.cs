using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>Which way <see cref="RandomFlip"/> mirrors images (Keras's <c>mode</c>).</summary>
public enum FlipMode
{
    /// <summary>Left-right: Keras's "horizontal".</summary>
    Horizontal,

    /// <summary>Top-bottom: Keras's "vertical".</summary>
    Vertical,

    /// <summary>Each independently: Keras's "horizontal_and_vertical", its default.</summary>
    HorizontalAndVertical,
}

/// <summary>
/// Keras's <c>RandomFlip</c>: in training each image is mirrored left-right and/or top-bottom, each with probability
/// ½; in prediction the identity. Images (C, H, W); no parameters.
/// </summary>
public sealed class RandomFlip : RandomAugmentation
{
    /// <summary>A random flip in <paramref name="mode"/>.</summary>
    public RandomFlip(FlipMode mode = FlipMode.HorizontalAndVertical, string? name = null) : base(name)
    {
        if (!Enum.IsDefined(mode))
            throw new ArgumentOutOfRangeException(nameof(mode), mode, $"{Describe()}: flip mode {(int)mode} does not exist; use Horizontal, Vertical or HorizontalAndVertical.");
        Mode = mode;
    }

    /// <summary>Which way images are mirrored.</summary>
    public FlipMode Mode { get; }

    /// <inheritdoc />
    public override string TypeName => "RandomFlip";

    private protected override int DrawsPerImage => 2;

    /// <inheritdoc />
    public override Layer Clone() => new RandomFlip(Mode, Name);

    internal override void WriteConfig(BinaryWriter writer) => writer.Write((byte)Mode);

    internal static RandomFlip ReadConfig(BinaryReader reader, string name) => new((FlipMode)reader.ReadByte(), name);

    // draws: [flip left-right, flip top-bottom], 1 or 0.
    private protected override void Draw(Random random, Span<float> draws)
    {
        draws[0] = Mode != FlipMode.Vertical && random.NextDouble() < 0.5 ? 1 : 0;
        draws[1] = Mode != FlipMode.Horizontal && random.NextDouble() < 0.5 ? 1 : 0;
    }

    private protected override void Transform(ReadOnlySpan<float> draws, ReadOnlySpan<float> x, Span<float> y) =>
        ImageTransformKernels.Flip(x, y, InputShape.Channels, InputShape.Height, InputShape.Width, draws[0] != 0, draws[1] != 0);

    private protected override void TransformBackward(ReadOnlySpan<float> draws, ReadOnlySpan<float> dy, Span<float> dx) =>
        Transform(draws, dy, dx); // a flip is its own transpose
}
