namespace MlNetConv.Core.Training;

/// <summary><see cref="ReduceLROnPlateau"/> at work during one <c>Fit</c>, with Keras's order of checks each epoch.</summary>
internal sealed class PlateauMonitor
{
    private readonly ReduceLROnPlateau settings;
    private readonly Optimizer optimizer;
    private double best = double.PositiveInfinity;
    private int wait, cooldown;

    public PlateauMonitor(ReduceLROnPlateau settings, Optimizer optimizer)
    {
        settings.Validate();
        if (optimizer.LearningRate is not ConstantLearningRate)
            throw new ArgumentException(
                $"ReduceLROnPlateau changes a constant learning rate; the optimizer's is a {optimizer.LearningRate.GetType().Name}. Use one or the other.");
        this.settings = settings;
        this.optimizer = optimizer;
    }

    public void EndOfEpoch(double monitoredLoss)
    {
        bool coolingDown = cooldown > 0;
        if (coolingDown)
        {
            cooldown--;
            wait = 0;
        }
        if (monitoredLoss < best - settings.MinDelta)
        {
            best = monitoredLoss;
            wait = 0;
        }
        else if (!coolingDown && ++wait >= settings.Patience)
        {
            float rate = ((ConstantLearningRate)optimizer.LearningRate).Value;
            if (rate > settings.MinLearningRate)
            {
                optimizer.LearningRate = new ConstantLearningRate(Math.Max((float)(rate * settings.Factor), settings.MinLearningRate));
                cooldown = settings.Cooldown;
                wait = 0;
            }
        }
    }
}
