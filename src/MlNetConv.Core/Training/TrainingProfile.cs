namespace MlNetConv.Core.Training;

/// <summary>
/// Mean time per training batch of one layer's forward and backward pass (0 for a layer the one before it runs, a ReLU
/// after a normalization of images: its time is in that layer's).
/// </summary>
public sealed record LayerTiming(string Name, string TypeName, TimeSpan Forward, TimeSpan Backward);

/// <summary>Where a training batch's time goes: each layer's passes, the loss, and the optimizer update.</summary>
public sealed record TrainingProfile(IReadOnlyList<LayerTiming> Layers, TimeSpan Loss, TimeSpan Update, int Batches, int BatchSize)
{
    /// <summary>Everything measured, per batch.</summary>
    public TimeSpan Total => Layers.Aggregate(Loss + Update, (sum, l) => sum + l.Forward + l.Backward);
}
