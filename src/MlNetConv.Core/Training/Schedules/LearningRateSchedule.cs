namespace MlNetConv.Core.Training;

/// <summary>
/// A learning rate that depends on the optimizer's step, Keras's <c>keras.optimizers.schedules.LearningRateSchedule</c>:
/// <see cref="At"/> is called once per update with the number of updates applied before it (Keras's
/// <c>optimizer.iterations</c>, 0 for the first update). Any optimizer takes a schedule where it takes a learning rate,
/// and a plain number converts to a <see cref="ConstantLearningRate"/>.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for the update that follows <paramref name="step"/> earlier updates (step ≥ 0).</summary>
    public float At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return Rate(step);
    }

    /// <summary>A constant learning rate.</summary>
    public static implicit operator LearningRateSchedule(float learningRate) => new ConstantLearningRate(learningRate);

    /// <summary>The rate at a step already checked to be non-negative.</summary>
    private protected abstract float Rate(long step);

    /// <summary>Throws unless a learning rate is positive and finite (zero allowed where a schedule ends at zero).</summary>
    private protected static float CheckRate(float value, string name, bool allowZero = false) =>
        float.IsFinite(value) && (value > 0 || (allowZero && value == 0))
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"A learning rate must be {(allowZero ? "non-negative" : "positive")} and finite.");

    /// <summary>Throws unless a step count is positive.</summary>
    private protected static long CheckSteps(long value, string name) =>
        value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, "A number of steps must be positive.");
}
