using System.Diagnostics;
using MlNetConv.Core.Data;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Training;

/// <summary>
/// Training a <see cref="Sequential"/> model: Keras's <c>fit</c> and <c>train_on_batch</c>, and a per-layer time profile.
/// Each step is the model's <c>ComputeGradients</c> followed by the optimizer's update, on the model's own buffers.
/// </summary>
public static class ModelTraining
{
    /// <summary>
    /// Trains on <paramref name="train"/> as Keras's <c>fit</c> does and returns the per-epoch history.
    /// <paramref name="progress"/> gets every epoch's results; <paramref name="cancellationToken"/> is checked after every batch
    /// (the weights then stay as the last completed batch left them).
    /// </summary>
    public static TrainingHistory Fit(this Sequential model, Dataset train, FitOptions? options = null, IProgress<EpochResult>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        options ??= new FitOptions();
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "The batch size must be at least 1.");
        if (!(options.ValidationSplit >= 0 && options.ValidationSplit < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.ValidationSplit, "The validation split must be in [0, 1).");
        if (options.EarlyStopping is { Patience: < 0 }) throw new ArgumentOutOfRangeException(nameof(options), "Early-stopping patience cannot be negative.");
        Sequential.CheckLabelSmoothing(options.LabelSmoothing);
        model.EnsureClassifier(); // a model that cannot be trained says so before the data is checked
        train.Validate(model.InputShape, model.ClassCount, "training");
        options.ValidationData?.Validate(model.InputShape, model.ClassCount, "validation");

        // Keras's validation_split: the last fraction of the samples, before shuffling.
        int validationCount = options.ValidationData is null ? (int)(train.Count * options.ValidationSplit) : 0;
        int trainCount = train.Count - validationCount;
        if (trainCount < 1) throw new ArgumentException($"No training samples are left: {train.Count} samples, {validationCount} held out for validation.");
        int[] order = Enumerable.Range(0, trainCount).ToArray();
        (Dataset Data, int Start, int Count)? validation =
            options.ValidationData is { } v ? (v, 0, v.Count) : validationCount > 0 ? (train, trainCount, validationCount) : null;

        Optimizer optimizer = options.Optimizer ?? new Adam();
        optimizer.Prepare(model.ParameterCount);
        Workspace ws = model.TrainingWorkspace(Math.Min(options.BatchSize, trainCount));
        var pool = WorkerPool.ForThreads(ws.Threads);
        var monitor = new EarlyStoppingMonitor(options.EarlyStopping, model.ParameterBuffer);
        var plateau = options.ReduceLearningRateOnPlateau is { } reduce ? new PlateauMonitor(reduce, optimizer) : null;
        var history = new List<EpochResult>();
        int batchCount = (trainCount + options.BatchSize - 1) / options.BatchSize;

        for (int epoch = 1; epoch <= options.Epochs && !monitor.ShouldStop; epoch++)
        {
            if (options.Shuffle) model.TrainingRandom.Shuffle(order);
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0;
            int seen = 0;
            for (int batch = 0; batch < batchCount; batch++)
            {
                int start = batch * options.BatchSize, n = Math.Min(options.BatchSize, trainCount - start);
                Sequential.Gather(train, order.AsSpan(start, n), ws);
                var (loss, batchCorrect) = model.TrainingStep(ws, n, $"epoch {epoch}, batch {batch + 1} of {batchCount}", options.LabelSmoothing);
                optimizer.Update(model, pool);
                correct += batchCorrect;
                lossSum += loss * (double)n;
                seen += n;
                options.BatchProgress?.Report(new BatchProgress(epoch, batch + 1, batchCount, seen, lossSum / seen, (double)correct / seen, clock.Elapsed));
                cancellationToken.ThrowIfCancellationRequested();
            }
            clock.Stop();

            EvaluationResult? validationResult = validation is { } val
                ? model.Evaluate(val.Data, val.Start, val.Count, options.BatchSize, options.LabelSmoothing)
                : null;
            // The rate of the epoch's last update (a schedule moves it every batch; a plateau cuts it after the epoch).
            float learningRate = optimizer.LearningRate.At(Math.Max(optimizer.Iterations - 1, 0));
            var result = new EpochResult(epoch, lossSum / seen, (double)correct / seen, validationResult?.Loss, validationResult?.Accuracy,
                clock.Elapsed, seen / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), learningRate);
            history.Add(result);
            monitor.EndOfEpoch(epoch, result.ValidationLoss ?? result.Loss);
            plateau?.EndOfEpoch(result.ValidationLoss ?? result.Loss);
            progress?.Report(result);
        }

        bool restored = monitor.RestoreBest(history.Count);
        if (restored) model.ParametersChanged();
        return new TrainingHistory(history, monitor.BestEpoch, monitor.ShouldStop, restored);
    }

    /// <summary>
    /// One gradient step on one batch (Keras's <c>train_on_batch</c>): the model's <c>ComputeGradients</c>, then the
    /// optimizer's update. Returns the batch's mean loss and how many samples it classified correctly. Allocates nothing
    /// once warmed up.
    /// </summary>
    public static (float Loss, int Correct) TrainOnBatch(this Sequential model, ReadOnlySpan<float> features, ReadOnlySpan<int> labels, Optimizer optimizer,
        float labelSmoothing = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        Sequential.CheckLabelSmoothing(labelSmoothing);
        Workspace ws = model.LoadTrainingBatch(features, labels);
        optimizer.Prepare(model.ParameterCount);
        var result = model.TrainingStep(ws, labels.Length, "this batch", labelSmoothing);
        optimizer.Update(model, WorkerPool.ForThreads(ws.Threads));
        return result;
    }

    /// <summary>
    /// Trains on <paramref name="batches"/> batches of <paramref name="data"/> (after two warm-up batches) and reports the mean
    /// time per batch of every layer's forward and backward pass, the loss and the update. This trains the model. A layer
    /// that the layer before it runs in training (a ReLU after a normalization of images) shows 0: its time is in that layer's.
    /// </summary>
    public static TrainingProfile ProfileTraining(this Sequential model, Dataset data, int batches = 50, int batchSize = 32, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Count < batchSize) throw new ArgumentException($"Profiling needs at least one batch of {batchSize} samples; the data has {data.Count}.", nameof(data));
        data.Validate(model.InputShape, model.ClassCount, "profiling");
        optimizer ??= new Adam();
        optimizer.Prepare(model.ParameterCount);
        Workspace ws = model.TrainingWorkspace(batchSize);
        var pool = WorkerPool.ForThreads(ws.Threads);
        int layerCount = model.Layers.Count, per = data.Count / batchSize;
        // Per layer forward, then per layer backward, then the loss (filled by the model), then the update.
        var ticks = new long[2 * layerCount + 2];
        int[] indices = new int[batchSize];
        for (int b = 0; b < batches + 2; b++)
        {
            bool measured = b >= 2;
            int start = b % per * batchSize;
            for (int i = 0; i < batchSize; i++) indices[i] = start + i;
            Sequential.Gather(data, indices, ws);
            model.TrainingStep(ws, batchSize, $"profiling batch {b + 1}", ticks: measured ? ticks : null);
            long started = Stopwatch.GetTimestamp();
            optimizer.Update(model, pool);
            if (measured) ticks[^1] += Stopwatch.GetTimestamp() - started;
        }
        TimeSpan Mean(long t) => TimeSpan.FromTicks((long)(t * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency) / batches));
        var timings = model.Layers.Select((l, i) => new LayerTiming(l.Name, l.TypeName, Mean(ticks[i]), Mean(ticks[layerCount + i]))).ToList();
        return new TrainingProfile(timings, Mean(ticks[^2]), Mean(ticks[^1]), batches, batchSize);
    }
}
