using MlNetConv.Core.Kernels;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>RandomTranslation</c> with <c>fill_mode="constant"</c>, <c>fill_value=0</c> and bilinear interpolation: in
/// training each image moves by dy = u·H rows and dx = v·W columns, u and v uniform in the height and width factor
/// ranges (fractions of the size; positive moves down and right), and what enters is zeros; in prediction the identity.
/// A factor f alone means the range [−f, f]. Images (C, H, W); no parameters.
/// </summary>
/// <example><c>new RandomTranslation(0.1, 0.1)</c> moves 28×28 images by up to 2.8 pixels each way.</example>
public sealed class RandomTranslation : RandomAugmentation
{
    /// <summary>Symmetric ranges: up to ±<paramref name="heightFactor"/> of the height and ±<paramref name="widthFactor"/> of the width.</summary>
    public RandomTranslation(double heightFactor, double widthFactor, string? name = null)
        : this((-heightFactor, heightFactor), (-widthFactor, widthFactor), name)
    {
    }

    /// <summary>Ranges (lower, upper) of the move as fractions of the height and width, within [−1, 1].</summary>
    public RandomTranslation((double Lower, double Upper) heightFactor, (double Lower, double Upper) widthFactor, string? name = null) : base(name)
    {
        HeightFactor = CheckRange(heightFactor, nameof(heightFactor));
        WidthFactor = CheckRange(widthFactor, nameof(widthFactor));
    }

    /// <summary>The range of the vertical move as a fraction of the height.</summary>
    public (double Lower, double Upper) HeightFactor { get; }

    /// <summary>The range of the horizontal move as a fraction of the width.</summary>
    public (double Lower, double Upper) WidthFactor { get; }

    /// <inheritdoc />
    public override string TypeName => "RandomTranslation";

    private protected override int DrawsPerImage => 2;

    /// <inheritdoc />
    public override Layer Clone() => new RandomTranslation(HeightFactor, WidthFactor, Name);

    internal override void WriteConfig(BinaryWriter writer)
    {
        writer.Write(HeightFactor.Lower);
        writer.Write(HeightFactor.Upper);
        writer.Write(WidthFactor.Lower);
        writer.Write(WidthFactor.Upper);
    }

    internal static RandomTranslation ReadConfig(BinaryReader reader, string name) =>
        new((reader.ReadDouble(), reader.ReadDouble()), (reader.ReadDouble(), reader.ReadDouble()), name);

    // draws: [dy, dx] in pixels.
    private protected override void Draw(Random random, Span<float> draws)
    {
        draws[0] = (float)((HeightFactor.Lower + random.NextDouble() * (HeightFactor.Upper - HeightFactor.Lower)) * InputShape.Height);
        draws[1] = (float)((WidthFactor.Lower + random.NextDouble() * (WidthFactor.Upper - WidthFactor.Lower)) * InputShape.Width);
    }

    private protected override void Transform(ReadOnlySpan<float> draws, ReadOnlySpan<float> x, Span<float> y) =>
        ImageTransformKernels.TranslateForward(x, y, InputShape.Channels, InputShape.Height, InputShape.Width, draws[0], draws[1]);

    private protected override void TransformBackward(ReadOnlySpan<float> draws, ReadOnlySpan<float> dy, Span<float> dx) =>
        ImageTransformKernels.TranslateBackward(dy, dx, InputShape.Channels, InputShape.Height, InputShape.Width, draws[0], draws[1]);

    private (double, double) CheckRange((double Lower, double Upper) range, string name) =>
        range.Lower >= -1 && range.Upper <= 1 && range.Lower <= range.Upper
            ? range
            : throw new ArgumentOutOfRangeException(name, range, $"{Describe()}: a translation range must lie within [-1, 1] with lower ≤ upper.");
}
