namespace MlNetConv.Core.Training;

/// <summary>
/// Keras's <c>ExponentialDecay</c>: lr(step) = initial · rate^(step / decaySteps), the exponent floored with
/// <paramref name="staircase"/> (the rate then drops every <paramref name="decaySteps"/> steps).
/// </summary>
public sealed class ExponentialDecay(float initialLearningRate, long decaySteps, double decayRate, bool staircase = false) : LearningRateSchedule
{
    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; } = CheckRate(initialLearningRate, nameof(initialLearningRate));

    /// <summary>Steps over which the rate is multiplied by <see cref="DecayRate"/>.</summary>
    public long DecaySteps { get; } = CheckSteps(decaySteps, nameof(decaySteps));

    /// <summary>The factor per <see cref="DecaySteps"/> steps (positive).</summary>
    public double DecayRate { get; } = decayRate > 0 && double.IsFinite(decayRate)
        ? decayRate
        : throw new ArgumentOutOfRangeException(nameof(decayRate), decayRate, "The decay rate must be positive and finite.");

    /// <summary>Whether the exponent is a whole number of decay periods.</summary>
    public bool Staircase { get; } = staircase;

    private protected override float Rate(long step)
    {
        double p = step / (double)DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return (float)(InitialLearningRate * Math.Pow(DecayRate, p));
    }
}
