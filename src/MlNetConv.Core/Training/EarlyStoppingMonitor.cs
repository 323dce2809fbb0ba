namespace MlNetConv.Core.Training;

/// <summary>
/// <see cref="EarlyStopping"/> at work during one <c>Fit</c>: tracks the best monitored loss, keeps a copy of the best
/// epoch's weights when they are to be restored, and says when patience has run out. Without early stopping it still
/// reports the best epoch and never stops.
/// </summary>
internal sealed class EarlyStoppingMonitor(EarlyStopping? settings, float[] parameters)
{
    private readonly float[]? bestWeights = settings is { RestoreBestWeights: true } ? new float[parameters.Length] : null;
    private double best = double.PositiveInfinity;
    private int epochsWithoutImprovement;

    public int BestEpoch { get; private set; }

    public bool ShouldStop { get; private set; }

    public void EndOfEpoch(int epoch, double monitoredLoss)
    {
        if (monitoredLoss < best - (settings?.MinDelta ?? 0))
        {
            best = monitoredLoss;
            BestEpoch = epoch;
            epochsWithoutImprovement = 0;
            if (bestWeights is not null) parameters.CopyTo(bestWeights, 0);
        }
        else if (settings is not null && ++epochsWithoutImprovement >= Math.Max(settings.Patience, 1))
            ShouldStop = true;
    }

    /// <summary>Puts the best epoch's weights back if asked to and if the last epoch was not the best; says whether it did.</summary>
    public bool RestoreBest(int lastEpoch)
    {
        if (bestWeights is null || BestEpoch == lastEpoch || BestEpoch == 0) return false;
        bestWeights.CopyTo(parameters, 0);
        return true;
    }
}
