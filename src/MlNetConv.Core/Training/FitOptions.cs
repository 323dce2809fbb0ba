using MlNetConv.Core.Data;

namespace MlNetConv.Core.Training;

/// <summary>How <see cref="ModelTraining.Fit"/> trains: Keras's <c>fit</c> arguments and their defaults.</summary>
public sealed class FitOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per gradient step (Keras default 32).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Reshuffle the training samples before every epoch.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Fraction of the training data held out for validation, taken from the end before any shuffling
    /// (Keras's <c>validation_split</c>). Ignored when <see cref="ValidationData"/> is given.
    /// </summary>
    public double ValidationSplit { get; init; }

    /// <summary>Separate validation samples.</summary>
    public Dataset? ValidationData { get; init; }

    /// <summary>The update rule; Keras's default Adam when not set.</summary>
    public Optimizer? Optimizer { get; init; }

    /// <summary>Stop when the monitored loss stops improving; none by default.</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary>Cut a constant learning rate when the monitored loss stops improving (Keras's callback); none by default.</summary>
    public ReduceLROnPlateau? ReduceLearningRateOnPlateau { get; init; }

    /// <summary>
    /// Smoothing s in [0, 1) of the targets: (1 − s)·onehot(label) + s/K, as Keras's categorical cross-entropy's
    /// <c>label_smoothing</c>; the training and validation losses both use it. 0 by default.
    /// </summary>
    public float LabelSmoothing { get; init; }

    /// <summary>Called after every batch with the running figures of the epoch (for progress bars).</summary>
    public IProgress<BatchProgress>? BatchProgress { get; init; }
}

/// <summary>
/// Keras's <c>EarlyStopping</c> on the validation loss (the training loss when there is no validation data):
/// training stops after <paramref name="Patience"/> epochs without an improvement of more than
/// <paramref name="MinDelta"/>; with <paramref name="RestoreBestWeights"/> the best epoch's weights are put back at the end.
/// </summary>
public sealed record EarlyStopping(int Patience = 0, bool RestoreBestWeights = false, double MinDelta = 0);

/// <summary>The running figures of the epoch after one batch.</summary>
public readonly record struct BatchProgress(int Epoch, int Batch, int BatchCount, int SamplesSeen, double Loss, double Accuracy, TimeSpan Elapsed);

/// <summary>One epoch's results (the learning rate is that of its last update); validation figures are null without validation data.</summary>
public sealed record EpochResult(int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    TimeSpan Duration, double SamplesPerSecond, float LearningRate);

/// <summary>Every epoch of a <see cref="ModelTraining.Fit"/> call and what early stopping did.</summary>
public sealed record TrainingHistory(IReadOnlyList<EpochResult> Epochs, int BestEpoch, bool StoppedEarly, bool RestoredBestWeights);
