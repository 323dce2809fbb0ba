namespace MlNetConv.Core.Training;

/// <summary>
/// Keras's <c>CosineDecay</c> with its optional linear warm-up (Loshchilov and Hutter's SGDR without restarts; Goyal et
/// al.'s warm-up). Without a <c>warmupTarget</c>: lr(step) = initial · ((1 − α)·½(1 + cos(π·min(step, D)/D)) + α)
/// with D = <c>decaySteps</c>. With one: the rate rises linearly from initial to the target over
/// <c>warmupSteps</c> steps, then decays as above from the target over D steps, and stays at target·α.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>A cosine decay over <paramref name="decaySteps"/> steps, after an optional warm-up.</summary>
    /// <param name="initialLearningRate">The rate at step 0 (may be 0 when a warm-up follows).</param>
    /// <param name="decaySteps">Steps of the cosine, positive.</param>
    /// <param name="alpha">The final rate as a fraction of the rate the decay starts from, in [0, 1].</param>
    /// <param name="warmupTarget">The rate the warm-up reaches; null for no warm-up.</param>
    /// <param name="warmupSteps">Steps of the warm-up, ≥ 0.</param>
    public CosineDecay(float initialLearningRate, long decaySteps, double alpha = 0, float? warmupTarget = null, long warmupSteps = 0)
    {
        InitialLearningRate = CheckRate(initialLearningRate, nameof(initialLearningRate), allowZero: warmupTarget is not null);
        DecaySteps = CheckSteps(decaySteps, nameof(decaySteps));
        Alpha = alpha is >= 0 and <= 1 ? alpha : throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1].");
        WarmupTarget = warmupTarget is { } target ? CheckRate(target, nameof(warmupTarget)) : null;
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "Warm-up steps cannot be negative.");
        if (warmupSteps > 0 && warmupTarget is null)
            throw new ArgumentException($"{warmupSteps} warm-up steps need a warmupTarget to warm up to.", nameof(warmupTarget));
        WarmupSteps = warmupSteps;
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>Steps of the cosine.</summary>
    public long DecaySteps { get; }

    /// <summary>The final rate as a fraction of the decay's starting rate.</summary>
    public double Alpha { get; }

    /// <summary>The rate the warm-up reaches, or null without warm-up.</summary>
    public float? WarmupTarget { get; }

    /// <summary>Steps of the warm-up.</summary>
    public long WarmupSteps { get; }

    private protected override float Rate(long step)
    {
        if (WarmupTarget is not { } target) return Decayed(Math.Min(step, DecaySteps), InitialLearningRate);
        step = Math.Min(step, DecaySteps + WarmupSteps);
        return step < WarmupSteps
            ? (float)((target - (double)InitialLearningRate) * step / WarmupSteps + InitialLearningRate)
            : Decayed(step - WarmupSteps, target);
    }

    private float Decayed(long step, float from)
    {
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * step / DecaySteps));
        return (float)(from * ((1 - Alpha) * cosine + Alpha));
    }
}
