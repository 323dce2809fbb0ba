using System.Numerics.Tensors;
using MlNetConv.Tensors;

namespace MlNetConv.Training;

/// <summary>
/// Samples and their integer class labels: <see cref="Count"/> samples of <see cref="SampleShape"/>, contiguous
/// (N, C, H, W) floats. The arrays are used as they are, not copied.
/// </summary>
public sealed class Dataset
{
    /// <summary>Wraps features and labels; their lengths must agree with the shape.</summary>
    public Dataset(float[] features, int[] labels, Shape sampleShape)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (sampleShape.Size == 0) throw new ArgumentException("The sample shape is empty.", nameof(sampleShape));
        if ((long)labels.Length * sampleShape.Size != features.Length)
            throw new ArgumentException(
                $"{labels.Length} labels of shape {sampleShape} need {(long)labels.Length * sampleShape.Size} feature values; got {features.Length}.",
                nameof(features));
        Features = features;
        Labels = labels;
        SampleShape = sampleShape;
    }

    /// <summary>All samples, one after another.</summary>
    public float[] Features { get; }

    /// <summary>One class index per sample.</summary>
    public int[] Labels { get; }

    /// <summary>The shape of one sample.</summary>
    public Shape SampleShape { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>A copy of samples [start, start + count).</summary>
    public Dataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (start + count > Count) throw new ArgumentOutOfRangeException(nameof(count), $"Samples {start}..{start + count} exceed the {Count} there are.");
        int size = SampleShape.Size;
        return new Dataset(Features.AsSpan(start * size, count * size).ToArray(), Labels.AsSpan(start, count).ToArray(), SampleShape);
    }

    /// <summary>Throws when a feature is NaN or infinite, or a label is outside [0, classes).</summary>
    internal void Validate(Shape modelInput, int classes, string role)
    {
        if (SampleShape.Size != modelInput.Size)
            throw new ArgumentException($"The {role} samples have shape {SampleShape} ({SampleShape.Size} values); the model takes {modelInput} ({modelInput.Size}).");
        EnsureFinite(Features, SampleShape.Size, role);
        for (int i = 0; i < Labels.Length; i++)
            if ((uint)Labels[i] >= (uint)classes)
                throw new ArgumentException($"The {role} label of sample {i} is {Labels[i]}; the model has {classes} classes (0..{classes - 1}).");
    }

    /// <summary>Throws naming the first sample and position holding a NaN or infinity.</summary>
    internal static void EnsureFinite(ReadOnlySpan<float> values, int sampleSize, string role)
    {
        if (values.IsEmpty) return;
        // A NaN anywhere makes the max magnitude NaN; an infinity makes it infinite.
        int index = TensorPrimitives.IndexOfMaxMagnitude(values);
        if (float.IsFinite(values[index])) return;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"The {role} features hold {values[i]} at sample {i / sampleSize}, value {i % sampleSize}; inputs must be finite.");
    }
}
