namespace MlNetConv.Core.Training;

/// <summary>The same learning rate at every step.</summary>
public sealed class ConstantLearningRate(float learningRate) : LearningRateSchedule
{
    /// <summary>The rate.</summary>
    public float Value { get; } = CheckRate(learningRate, nameof(learningRate));

    private protected override float Rate(long step) => Value;

    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
