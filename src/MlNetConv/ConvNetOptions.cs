using MlNetConv.Core;
using Microsoft.ML;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv;

/// <summary>Which update rule <see cref="ConvNetTrainer"/> uses.</summary>
public enum ConvNetOptimizer
{
    /// <summary>Adam with Keras's defaults (β₁ 0.9, β₂ 0.999, ε 1e-7).</summary>
    Adam,

    /// <summary>Stochastic gradient descent, with optional (Nesterov) momentum.</summary>
    Sgd,

    /// <summary>Adam with decoupled weight decay, Keras 3's <c>AdamW</c> (weight decay 0.004 unless <see cref="ConvNetOptions.WeightDecay"/> says otherwise).</summary>
    AdamW,
}

/// <summary>
/// Options of <see cref="ConvNetTrainer"/>: ML.NET column names and every training setting of the engine. The defaults
/// are the textbook's set-up: its CNN (<see cref="Architectures.TextbookCnn"/>), Adam at 1e-3, batch 32, up to 20 epochs,
/// 20% of the rows held out for validation, early stopping with patience 2 restoring the best weights.
/// </summary>
public sealed class ConvNetOptions
{
    /// <summary>The input column: a known-size vector of Single holding C·H·W values per row, channels first.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>The key-typed label column (MapValueToKey makes one from text labels).</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The output column of class probabilities.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>The output key column of the most probable class.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// One image's shape (C, H, W). Taken from the feature column when its type carries three dimensions (ExtractPixels
    /// output); needed otherwise, and checked against the column's size when given.
    /// </summary>
    public Shape? InputShape { get; set; }

    /// <summary>
    /// The architecture as a list of layers, used as templates (each Fit trains copies). The last layer must output one
    /// score per class. Null: the textbook CNN with as many outputs as the label has values.
    /// </summary>
    public IReadOnlyList<Layer>? Layers { get; set; }

    /// <summary>Passes over the training data, at most (early stopping may end sooner).</summary>
    public int Epochs { get; set; } = 20;

    /// <summary>Images per gradient step.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>The update rule.</summary>
    public ConvNetOptimizer Optimizer { get; set; } = ConvNetOptimizer.Adam;

    /// <summary>
    /// The step size: a number, or a schedule over the updates (<see cref="CosineDecay"/>, <see cref="ExponentialDecay"/>,
    /// <see cref="PiecewiseConstantDecay"/>); null takes the rule's Keras default (Adam and AdamW 1e-3, SGD 0.01).
    /// </summary>
    public LearningRateSchedule? LearningRate { get; set; }

    /// <summary>Decoupled weight decay (θ ← θ − θ·wd·lr before each update); null: AdamW's 0.004, none for the others.</summary>
    public float? WeightDecay { get; set; }

    /// <summary>Smoothing s in [0, 1) of the targets, (1 − s)·onehot + s/K, as Keras's <c>label_smoothing</c>; 0 by default.</summary>
    public float LabelSmoothing { get; set; }

    /// <summary>Cut a constant learning rate when the validation loss stops improving (Keras's callback); none by default.</summary>
    public ReduceLROnPlateau? ReduceLearningRateOnPlateau { get; set; }

    /// <summary>SGD momentum in [0, 1).</summary>
    public float Momentum { get; set; }

    /// <summary>SGD with Nesterov momentum.</summary>
    public bool Nesterov { get; set; }

    /// <summary>
    /// Fraction of the training rows held out for validation, the last rows (Keras's <c>validation_split</c>, the engine's
    /// <see cref="FitOptions.ValidationSplit"/>); ignored with <see cref="ValidationData"/>.
    /// </summary>
    public double ValidationSplit { get; set; } = 0.2;

    /// <summary>Separate validation rows with the same columns as the training data.</summary>
    public IDataView? ValidationData { get; set; }

    /// <summary>
    /// Keras's <c>EarlyStopping</c> on the validation loss, as the engine's <see cref="FitOptions.EarlyStopping"/>: by default
    /// patience 2, restoring the best epoch's weights; null trains all epochs.
    /// </summary>
    public EarlyStopping? EarlyStopping { get; set; } = new(Patience: 2, RestoreBestWeights: true);

    /// <summary>Seed of initialisation, shuffling and dropout.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>Threads for training and scoring; null uses every processor. Results do not depend on it.</summary>
    public int? Threads { get; set; }

    /// <summary>Receives every epoch's results (they are also written to ML.NET's log).</summary>
    public IProgress<EpochResult>? Progress { get; set; }

    /// <summary>Receives running figures after every batch (for progress bars).</summary>
    public IProgress<BatchProgress>? BatchProgress { get; set; }

    /// <summary>Stops training between batches.</summary>
    public CancellationToken CancellationToken { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(FeatureColumnName) || string.IsNullOrWhiteSpace(LabelColumnName) ||
            string.IsNullOrWhiteSpace(ScoreColumnName) || string.IsNullOrWhiteSpace(PredictedLabelColumnName))
            throw new ArgumentException("Column names cannot be empty.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "At least one epoch is needed.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The batch size must be at least 1.");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationSplit), ValidationSplit, "The validation split must be in [0, 1).");
        if (EarlyStopping is { Patience: < 0 } stopping)
            throw new ArgumentOutOfRangeException(nameof(EarlyStopping), stopping.Patience, "Early-stopping patience cannot be negative.");
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "At least one thread is needed.");
        if (Layers is { Count: 0 }) throw new ArgumentException("The architecture needs at least one layer.", nameof(Layers));
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
            throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "Label smoothing must be in [0, 1).");
        ReduceLearningRateOnPlateau?.Validate();
        if (ReduceLearningRateOnPlateau is not null && LearningRate is not (null or ConstantLearningRate))
            throw new ArgumentException(
                $"ReduceLearningRateOnPlateau changes a constant learning rate; LearningRate is a {LearningRate.GetType().Name}. Use one or the other.",
                nameof(ReduceLearningRateOnPlateau));
        _ = CreateOptimizer(); // checks the momentum and weight decay
    }

    internal IEnumerable<Layer> CreateLayers(int classes) =>
        Layers is null ? Architectures.TextbookCnn(classes) : Layers.Select(layer => layer.Clone());

    internal Optimizer CreateOptimizer() => Optimizer switch
    {
        ConvNetOptimizer.Adam => new Adam(LearningRate, weightDecay: WeightDecay ?? 0),
        ConvNetOptimizer.Sgd => new Sgd(LearningRate, Momentum, Nesterov, WeightDecay ?? 0),
        ConvNetOptimizer.AdamW => new AdamW(LearningRate, WeightDecay ?? 0.004f),
        _ => throw new ArgumentOutOfRangeException(nameof(Optimizer), Optimizer, "Unknown optimizer."),
    };
}
