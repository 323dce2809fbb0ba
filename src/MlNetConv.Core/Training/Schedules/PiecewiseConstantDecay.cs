namespace MlNetConv.Core.Training;

/// <summary>
/// Keras's <c>PiecewiseConstantDecay</c>: values[0] while step ≤ boundaries[0], values[i] while
/// boundaries[i−1] &lt; step ≤ boundaries[i], and values[^1] after the last boundary. Boundaries strictly increase
/// and there is one more value than boundaries.
/// </summary>
public sealed class PiecewiseConstantDecay : LearningRateSchedule
{
    private readonly long[] boundaries;
    private readonly float[] values;

    /// <summary>A schedule of <paramref name="values"/> switched at <paramref name="boundaries"/>.</summary>
    public PiecewiseConstantDecay(IReadOnlyList<long> boundaries, IReadOnlyList<float> values)
    {
        ArgumentNullException.ThrowIfNull(boundaries);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count != boundaries.Count + 1)
            throw new ArgumentException($"PiecewiseConstantDecay needs one more value than boundaries; got {boundaries.Count} boundaries and {values.Count} values.", nameof(values));
        for (int i = 0; i < boundaries.Count; i++)
        {
            if (boundaries[i] < 0) throw new ArgumentOutOfRangeException(nameof(boundaries), boundaries[i], $"Boundary {i} is negative; steps start at 0.");
            if (i > 0 && boundaries[i] <= boundaries[i - 1])
                throw new ArgumentException($"Boundaries must strictly increase; boundary {i} ({boundaries[i]}) follows {boundaries[i - 1]}.", nameof(boundaries));
        }
        for (int i = 0; i < values.Count; i++) CheckRate(values[i], $"{nameof(values)}[{i}]", allowZero: true);
        this.boundaries = [.. boundaries];
        this.values = [.. values];
    }

    /// <summary>The steps at which the rate changes.</summary>
    public IReadOnlyList<long> Boundaries => boundaries;

    /// <summary>The rates, one per interval.</summary>
    public IReadOnlyList<float> Values => values;

    private protected override float Rate(long step)
    {
        int i = 0;
        while (i < boundaries.Length && step > boundaries[i]) i++;
        return values[i];
    }
}
