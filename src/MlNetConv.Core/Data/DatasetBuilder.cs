using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Data;

/// <summary>
/// Collects samples one at a time (from a data view's cursor, say) into a <see cref="Dataset"/>. While every value
/// lies in [0, 1] on the grid of 8-bit pixels, however it was scaled, values are kept as one byte each: code k
/// stands for the first value seen that rounds to k/255, and a later value that rounds to k but differs in any bit
/// switches the whole set to floats, so what is read back is always exactly what was added.
/// </summary>
public sealed class DatasetBuilder
{
    private readonly int size;
    private readonly float[] palette = new float[256];
    private readonly bool[] seen = new bool[256];
    private byte[]? codes;
    private float[]? values;
    private int[] labels;

    /// <summary>A builder for samples of <paramref name="sampleShape"/>, with room for <paramref name="expectedCount"/> before it grows.</summary>
    public DatasetBuilder(Shape sampleShape, int expectedCount = 1024)
    {
        if (sampleShape.Size == 0) throw new ArgumentException("The sample shape is empty.", nameof(sampleShape));
        ArgumentOutOfRangeException.ThrowIfNegative(expectedCount);
        SampleShape = sampleShape;
        size = sampleShape.Size;
        int capacity = (int)Math.Clamp(expectedCount, 1, Array.MaxLength / size);
        codes = new byte[capacity * size];
        labels = new int[capacity];
    }

    /// <summary>The shape of one sample.</summary>
    public Shape SampleShape { get; }

    /// <summary>Samples added so far.</summary>
    public int Count { get; private set; }

    /// <summary>Appends one sample of <see cref="SampleShape"/>'s size and its label.</summary>
    public void Add(ReadOnlySpan<float> sample, int label)
    {
        if (sample.Length != size)
            throw new ArgumentException($"A sample of shape {SampleShape} has {size} values; got {sample.Length}.", nameof(sample));
        if (Count == labels.Length) Grow();
        labels[Count] = label;
        int offset = Count * size;
        if (codes is not null && !TryEncode(sample, codes.AsSpan(offset, size)))
            SwitchToFloats();
        if (values is not null) sample.CopyTo(values.AsSpan(offset, size));
        Count++;
    }

    /// <summary>The dataset of the samples added (the builder is not to be used afterwards).</summary>
    public Dataset Build()
    {
        int[] finalLabels = Count == labels.Length ? labels : labels[..Count];
        if (codes is not null)
        {
            for (int k = 0; k < palette.Length; k++)
                if (!seen[k]) palette[k] = k / 255f; // codes never used: any finite value
            return Dataset.FromCodes(Count * size == codes.Length ? codes : codes[..(Count * size)], palette, finalLabels, SampleShape);
        }
        return new Dataset(Count * size == values!.Length ? values : values[..(Count * size)], finalLabels, SampleShape);
    }

    private bool TryEncode(ReadOnlySpan<float> sample, Span<byte> target)
    {
        for (int i = 0; i < sample.Length; i++)
        {
            float value = sample[i];
            if (!(value >= 0f && value <= 1f)) return false;
            int k = (int)(value * 255f + 0.5f);
            if (!seen[k])
            {
                seen[k] = true;
                palette[k] = value;
            }
            else if (BitConverter.SingleToInt32Bits(palette[k]) != BitConverter.SingleToInt32Bits(value))
                return false;
            target[i] = (byte)k;
        }
        return true;
    }

    // Earlier samples are decoded through the palette; the current one is copied as floats by the caller.
    private void SwitchToFloats()
    {
        values = new float[codes!.Length];
        for (int i = 0; i < Count * size; i++) values[i] = palette[codes[i]];
        codes = null;
    }

    private void Grow()
    {
        int capacity = (int)Math.Min((long)labels.Length * 2, Array.MaxLength / size);
        if (capacity == labels.Length) throw new InvalidOperationException($"A dataset holds at most {capacity} samples of {size} values.");
        Array.Resize(ref labels, capacity);
        if (codes is not null) Array.Resize(ref codes, capacity * size);
        else Array.Resize(ref values, capacity * size);
    }
}
