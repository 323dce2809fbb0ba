namespace MlNetConv.Core.Training;

/// <summary>
/// Keras's <c>ReduceLROnPlateau</c> callback on the validation loss (the training loss without validation data): after
/// <paramref name="Patience"/> epochs without an improvement of more than <paramref name="MinDelta"/>, a constant learning
/// rate is multiplied by <paramref name="Factor"/>, never below <paramref name="MinLearningRate"/>; then
/// <paramref name="Cooldown"/> epochs pass before counting starts again. Keras's defaults. It needs the optimizer's
/// learning rate to be a constant, not a schedule.
/// </summary>
public sealed record ReduceLROnPlateau(double Factor = 0.1, int Patience = 10, double MinDelta = 1e-4, int Cooldown = 0, float MinLearningRate = 0)
{
    /// <summary>Throws naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (!(Factor > 0 && Factor < 1)) throw new ArgumentOutOfRangeException(nameof(Factor), Factor, "ReduceLROnPlateau's factor must be in (0, 1).");
        if (Patience < 0) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "ReduceLROnPlateau's patience cannot be negative.");
        if (!(MinDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(MinDelta), MinDelta, "ReduceLROnPlateau's minimum change cannot be negative.");
        if (Cooldown < 0) throw new ArgumentOutOfRangeException(nameof(Cooldown), Cooldown, "ReduceLROnPlateau's cooldown cannot be negative.");
        if (!(MinLearningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(MinLearningRate), MinLearningRate, "ReduceLROnPlateau's minimum rate cannot be negative.");
    }
}
