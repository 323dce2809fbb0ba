using System.Numerics.Tensors;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Data;

/// <summary>
/// Samples and their integer class labels: <see cref="Count"/> samples of <see cref="SampleShape"/>, one after
/// another in (N, C, H, W) order. The values are kept either as floats or, for 8-bit images, as one byte per value
/// standing for one of 256 floats (<see cref="FromPixels"/>, <see cref="DatasetBuilder"/>): a quarter of the memory,
/// read back exactly. The arrays given are used as they are, not copied.
/// </summary>
public sealed class Dataset
{
    private readonly float[]? values;
    private readonly byte[]? codes;
    private readonly float[]? palette; // codes[i] stands for palette[codes[i]]

    /// <summary>Wraps float features and labels; their lengths must agree with the shape.</summary>
    public Dataset(float[] features, int[] labels, Shape sampleShape)
    {
        ArgumentNullException.ThrowIfNull(features);
        CheckSizes(features.Length, labels, sampleShape, nameof(features));
        values = features;
        Labels = labels;
        SampleShape = sampleShape;
    }

    private Dataset(byte[] codes, float[] palette, int[] labels, Shape sampleShape)
    {
        CheckSizes(codes.Length, labels, sampleShape, nameof(codes));
        if (palette.Length != 256 || !palette.All(float.IsFinite))
            throw new ArgumentException("The palette needs 256 finite values.", nameof(palette));
        this.codes = codes;
        this.palette = palette;
        Labels = labels;
        SampleShape = sampleShape;
    }

    /// <summary>One class index per sample.</summary>
    public int[] Labels { get; }

    /// <summary>The shape of one sample.</summary>
    public Shape SampleShape { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>Whether the values are kept as one byte each.</summary>
    public bool IsCompact => codes is not null;

    /// <summary>8-bit pixels, read as pixel / 255 (the same floats as converting and dividing), kept as bytes.</summary>
    public static Dataset FromPixels(byte[] pixels, int[] labels, Shape sampleShape)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var palette = new float[256];
        for (int k = 0; k < palette.Length; k++) palette[k] = k / 255f;
        return new Dataset(pixels, palette, labels, sampleShape);
    }

    internal static Dataset FromCodes(byte[] codes, float[] palette, int[] labels, Shape sampleShape) => new(codes, palette, labels, sampleShape);

    /// <summary>Writes the values of samples [start, start + count) to <paramref name="destination"/>.</summary>
    public void CopySamples(int start, int count, Span<float> destination)
    {
        CheckRange(start, count);
        int size = SampleShape.Size;
        Span<float> target = destination[..(count * size)];
        if (values is not null)
        {
            values.AsSpan(start * size, count * size).CopyTo(target);
            return;
        }
        ReadOnlySpan<byte> source = codes.AsSpan(start * size, count * size);
        float[] table = palette!;
        for (int i = 0; i < source.Length; i++) target[i] = table[source[i]];
    }

    /// <summary>A new array with the values of samples [start, start + count).</summary>
    public float[] SamplesToArray(int start, int count)
    {
        CheckRange(start, count);
        var result = new float[count * SampleShape.Size];
        CopySamples(start, count, result);
        return result;
    }

    /// <summary>A copy of samples [start, start + count), kept the same way as these.</summary>
    public Dataset Slice(int start, int count)
    {
        CheckRange(start, count);
        int size = SampleShape.Size;
        int[] labels = Labels.AsSpan(start, count).ToArray();
        return values is not null
            ? new Dataset(values.AsSpan(start * size, count * size).ToArray(), labels, SampleShape)
            : new Dataset(codes.AsSpan(start * size, count * size).ToArray(), palette!, labels, SampleShape);
    }

    /// <summary>Throws when a feature is NaN or infinite, or a label is outside [0, classes).</summary>
    internal void Validate(Shape modelInput, int classes, string role)
    {
        if (SampleShape.Size != modelInput.Size)
            throw new ArgumentException($"The {role} samples have shape {SampleShape} ({SampleShape.Size} values); the model takes {modelInput} ({modelInput.Size}).");
        if (values is not null) EnsureFinite(values, SampleShape.Size, role); // a palette is checked when it is made
        for (int i = 0; i < Labels.Length; i++)
            if ((uint)Labels[i] >= (uint)classes)
                throw new ArgumentException($"The {role} label of sample {i} is {Labels[i]}; the model has {classes} classes (0..{classes - 1}).");
    }

    /// <summary>Throws naming the first sample and position holding a NaN or infinity.</summary>
    internal static void EnsureFinite(ReadOnlySpan<float> values, int sampleSize, string role)
    {
        int i = Finite.IndexOfFirstNonFinite(values);
        if (i >= 0) throw new ArgumentException($"The {role} features hold {values[i]} at sample {i / sampleSize}, value {i % sampleSize}; inputs must be finite.");
    }

    private static void CheckSizes(long valueCount, int[] labels, Shape sampleShape, string name)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (sampleShape.Size == 0) throw new ArgumentException("The sample shape is empty.", nameof(sampleShape));
        if ((long)labels.Length * sampleShape.Size != valueCount)
            throw new ArgumentException(
                $"{labels.Length} labels of shape {sampleShape} need {(long)labels.Length * sampleShape.Size} feature values; got {valueCount}.", name);
    }

    private void CheckRange(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)start + count > Count) throw new ArgumentOutOfRangeException(nameof(count), $"Samples {start}..{start + count} exceed the {Count} there are.");
    }
}
