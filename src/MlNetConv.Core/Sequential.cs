using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Serialization;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core;

/// <summary>
/// A stack of layers trained by backpropagation, Keras's <c>Sequential</c>: built from an input shape (C, H, W),
/// summarised, fitted, evaluated, used for prediction, saved and loaded. All parameters live in one buffer.
/// The output layer gives class scores; training uses sparse categorical cross-entropy (fused with a final softmax).
/// For a given seed, results are the same bits for any <see cref="Threads"/> value.
/// </summary>
public sealed class Sequential
{
    private readonly List<Layer> layers = [];
    private readonly float[] parameters;
    private readonly float[] gradients;
    private readonly ConcurrentDictionary<(int Capacity, int Threads), ConcurrentBag<Workspace>> inferenceWorkspaces = new();
    private Workspace? trainingWorkspace;
    private long[]? profileTicks; // per layer forward, then per layer backward, then loss and update; null when not profiling
    private int threads = Environment.ProcessorCount;

    /// <summary>Builds the model: every layer's shape is checked and its parameters initialised from <paramref name="seed"/>.</summary>
    public Sequential(Shape inputShape, IEnumerable<Layer> layers, int seed = 42, string name = "sequential")
    {
        ArgumentNullException.ThrowIfNull(layers);
        InputShape = inputShape;
        Seed = seed;
        Name = name;
        Shape shape = inputShape;
        var counts = new Dictionary<string, int>();
        foreach (Layer layer in layers)
        {
            ArgumentNullException.ThrowIfNull(layer, nameof(layers));
            if (layer.IsBuilt) throw new ArgumentException($"Layer '{layer.Name}' already belongs to a model; create a new layer.", nameof(layers));
            string prefix = layer.DefaultNamePrefix;
            counts[prefix] = counts.TryGetValue(prefix, out int seen) ? seen + 1 : 1;
            if (layer.Name.Length == 0) layer.Name = seen == 0 ? prefix : $"{prefix}_{seen}";
            layer.Build(shape);
            shape = layer.OutputShape;
            this.layers.Add(layer);
        }
        if (this.layers.Count == 0) throw new ArgumentException("A model needs at least one layer.", nameof(layers));
        if (this.layers.Select(l => l.Name).Distinct().Count() != this.layers.Count)
            throw new ArgumentException("Layer names must be unique: " + string.Join(", ", this.layers.Select(l => l.Name)), nameof(layers));

        long total = this.layers.Sum(l => (long)l.ParameterCount);
        if (total > int.MaxValue) throw new ArgumentException($"The model has {total} parameters; at most {int.MaxValue} are supported.");
        parameters = new float[total];
        gradients = new float[total];
        int offset = 0;
        var random = new Random(seed);
        foreach (Layer layer in this.layers)
        {
            layer.BindParameters(new ArraySegment<float>(parameters, offset, layer.ParameterCount),
                new ArraySegment<float>(gradients, offset, layer.ParameterCount));
            layer.InitializeParameters(random);
            offset += layer.ParameterCount;
        }
        // The training stream (shuffling, dropout) is separate from initialisation, so adding a layer's
        // parameters does not change which samples a batch holds.
        TrainingRandom = new Random(unchecked(seed * 31 + 17));
    }

    /// <summary>The model's name in <see cref="Summary"/>.</summary>
    public string Name { get; }

    /// <summary>The seed of initialisation, shuffling and dropout.</summary>
    public int Seed { get; }

    /// <summary>One input sample's shape.</summary>
    public Shape InputShape { get; }

    /// <summary>One output sample's shape.</summary>
    public Shape OutputShape => layers[^1].OutputShape;

    /// <summary>The layers, input first.</summary>
    public IReadOnlyList<Layer> Layers => layers;

    /// <summary>All trainable floats.</summary>
    public int ParameterCount => parameters.Length;

    /// <summary>Number of classes the output layer scores.</summary>
    public int ClassCount => OutputShape.Size;

    /// <summary>Threads used by training and prediction (default: all processors). Results do not depend on it.</summary>
    public int Threads
    {
        get => threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            threads = value;
        }
    }

    internal Random TrainingRandom { get; private set; }

    internal float[] ParameterBuffer => parameters;

    /// <summary>Finds a layer by name.</summary>
    public Layer GetLayer(string name) =>
        layers.FirstOrDefault(l => l.Name == name) ?? throw new ArgumentException(
            $"No layer named '{name}'; the layers are {string.Join(", ", layers.Select(l => l.Name))}.", nameof(name));

    /// <summary>The Keras-style table of layers, output shapes (channels first) and parameter counts.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        string rule = new('_', 72), doubleRule = new('=', 72);
        text.AppendLine(CultureInfo.InvariantCulture, $"Model: \"{Name}\"");
        text.AppendLine(rule);
        text.AppendLine(" Layer (type)                      Output Shape                 Param #");
        text.AppendLine(doubleRule);
        foreach (Layer layer in layers)
            text.AppendLine(CultureInfo.InvariantCulture,
                $" {$"{layer.Name} ({layer.TypeName})",-33} {layer.OutputShape.ToBatchString(),-22} {layer.ParameterCount,12:N0}");
        text.AppendLine(doubleRule);
        string size = FormatBytes(ParameterCount * 4L);
        text.AppendLine(CultureInfo.InvariantCulture, $"Total params: {ParameterCount:N0} ({size})");
        text.AppendLine(CultureInfo.InvariantCulture, $"Trainable params: {ParameterCount:N0} ({size})");
        text.AppendLine("Non-trainable params: 0 (0.00 B)");
        return text.ToString();
    }

    /// <summary>
    /// Trains on <paramref name="train"/> as Keras's <c>fit</c> does and returns the per-epoch history.
    /// <paramref name="progress"/> gets every epoch's results; <paramref name="cancellationToken"/> is checked after every batch
    /// (the weights then stay as the last completed batch left them).
    /// </summary>
    public TrainingHistory Fit(Dataset train, FitOptions? options = null, IProgress<EpochResult>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        options ??= new FitOptions();
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "The batch size must be at least 1.");
        if (!(options.ValidationSplit >= 0 && options.ValidationSplit < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.ValidationSplit, "The validation split must be in [0, 1).");
        if (options.EarlyStopping is { Patience: < 0 }) throw new ArgumentOutOfRangeException(nameof(options), "Early-stopping patience cannot be negative.");
        EnsureClassifier();
        train.Validate(InputShape, ClassCount, "training");
        options.ValidationData?.Validate(InputShape, ClassCount, "validation");

        // Keras's validation_split: the last fraction of the samples, before shuffling.
        int validationCount = options.ValidationData is null ? (int)(train.Count * options.ValidationSplit) : 0;
        int trainCount = train.Count - validationCount;
        if (trainCount < 1) throw new ArgumentException($"No training samples are left: {train.Count} samples, {validationCount} held out for validation.");
        int[] order = Enumerable.Range(0, trainCount).ToArray();
        (Dataset Data, int Start, int Count)? validation =
            options.ValidationData is { } v ? (v, 0, v.Count) : validationCount > 0 ? (train, trainCount, validationCount) : null;

        Optimizer optimizer = options.Optimizer ?? new Adam();
        Workspace ws = PrepareTraining(Math.Min(options.BatchSize, trainCount), optimizer);

        var history = new List<EpochResult>();
        EarlyStopping? stopping = options.EarlyStopping;
        double best = double.PositiveInfinity;
        int bestEpoch = 0, epochsWithoutImprovement = 0;
        float[]? bestWeights = stopping is { RestoreBestWeights: true } ? new float[parameters.Length] : null;
        bool stoppedEarly = false;
        int batchCount = (trainCount + options.BatchSize - 1) / options.BatchSize;

        for (int epoch = 1; epoch <= options.Epochs && !stoppedEarly; epoch++)
        {
            if (options.Shuffle) TrainingRandom.Shuffle(order);
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0;
            int seen = 0;
            for (int batch = 0; batch < batchCount; batch++)
            {
                int start = batch * options.BatchSize, n = Math.Min(options.BatchSize, trainCount - start);
                Gather(train, order.AsSpan(start, n), ws);
                var (loss, batchCorrect) = TrainStep(ws, n, optimizer, $"epoch {epoch}, batch {batch + 1} of {batchCount}");
                correct += batchCorrect;
                lossSum += loss * (double)n;
                seen += n;
                options.BatchProgress?.Report(new BatchProgress(epoch, batch + 1, batchCount, seen, lossSum / seen, (double)correct / seen, clock.Elapsed));
                cancellationToken.ThrowIfCancellationRequested();
            }
            clock.Stop();

            EvaluationResult? validationResult = validation is { } val ? Evaluate(val.Data, val.Start, val.Count, options.BatchSize) : null;
            var result = new EpochResult(epoch, lossSum / seen, (double)correct / seen, validationResult?.Loss, validationResult?.Accuracy,
                clock.Elapsed, seen / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
            history.Add(result);

            double monitored = result.ValidationLoss ?? result.Loss;
            if (monitored < best - (stopping?.MinDelta ?? 0))
            {
                best = monitored;
                bestEpoch = epoch;
                epochsWithoutImprovement = 0;
                if (bestWeights is not null) parameters.CopyTo(bestWeights, 0);
            }
            else if (stopping is not null && ++epochsWithoutImprovement >= Math.Max(stopping.Patience, 1))
                stoppedEarly = true;
            progress?.Report(result);
        }

        bool restored = false;
        if (bestWeights is not null && bestEpoch != history.Count && bestEpoch > 0)
        {
            bestWeights.CopyTo(parameters, 0);
            restored = true;
        }
        return new TrainingHistory(history, bestEpoch, stoppedEarly, restored);
    }

    /// <summary>
    /// One gradient step on one batch (Keras's <c>train_on_batch</c>): forward in training mode, loss, backward, update.
    /// Returns the batch's mean loss and how many samples it classified correctly. Allocates nothing once warmed up.
    /// </summary>
    public (float Loss, int Correct) TrainOnBatch(ReadOnlySpan<float> features, ReadOnlySpan<int> labels, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        EnsureClassifier();
        int n = labels.Length;
        if (n == 0) throw new ArgumentException("A batch needs at least one sample.", nameof(labels));
        if (features.Length != (long)n * InputShape.Size)
            throw new ArgumentException($"{n} labels need {(long)n * InputShape.Size} feature values of shape {InputShape}; got {features.Length}.", nameof(features));
        Dataset.EnsureFinite(features, InputShape.Size, "training");
        foreach (int label in labels)
            if ((uint)label >= (uint)ClassCount) throw new ArgumentException($"Label {label} is outside the model's {ClassCount} classes (0..{ClassCount - 1}).", nameof(labels));
        Workspace ws = trainingWorkspace is { } current && current.Capacity >= n && current.Threads == threads
            ? PrepareTraining(current.Capacity, optimizer)
            : PrepareTraining(n, optimizer);
        features.CopyTo(ws.Input);
        labels.CopyTo(ws.Labels);
        return TrainStep(ws, n, optimizer, "this batch");
    }

    /// <summary>
    /// Trains on <paramref name="batches"/> batches of <paramref name="data"/> (after two warm-up batches) and reports the mean
    /// time per batch of every layer's forward and backward pass, the loss and the update. This trains the model.
    /// </summary>
    public TrainingProfile ProfileTraining(Dataset data, int batches = 50, int batchSize = 32, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        if (data.Count < batchSize) throw new ArgumentException($"Profiling needs at least one batch of {batchSize} samples; the data has {data.Count}.", nameof(data));
        optimizer ??= new Adam();
        int per = data.Count / batchSize;
        var x = new float[batchSize * InputShape.Size];
        void Batch(int b)
        {
            int start = b % per * batchSize;
            data.CopySamples(start, batchSize, x);
            TrainOnBatch(x, data.Labels.AsSpan(start, batchSize), optimizer);
        }
        Batch(0);
        Batch(1);
        profileTicks = new long[2 * layers.Count + 2];
        try
        {
            for (int b = 0; b < batches; b++) Batch(b + 2);
            TimeSpan Mean(long ticks) => TimeSpan.FromTicks((long)(ticks * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency) / batches));
            var timings = layers.Select((l, i) => new LayerTiming(l.Name, l.TypeName, Mean(profileTicks[i]), Mean(profileTicks[layers.Count + i]))).ToList();
            return new TrainingProfile(timings, Mean(profileTicks[^2]), Mean(profileTicks[^1]), batches, batchSize);
        }
        finally
        {
            profileTicks = null;
        }
    }

    /// <summary>Loss and accuracy over <paramref name="data"/> in inference mode (dropout off).</summary>
    public EvaluationResult Evaluate(Dataset data, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(data);
        EnsureClassifier();
        data.Validate(InputShape, ClassCount, "evaluation");
        return Evaluate(data, 0, data.Count, batchSize);
    }

    /// <summary>
    /// The output layer's values (class probabilities for a softmax output) for every sample in <paramref name="features"/>,
    /// computed <paramref name="batchSize"/> samples at a time. Safe to call from several threads at once.
    /// </summary>
    public void Predict(ReadOnlySpan<float> features, Span<float> outputs, int batchSize = 32) =>
        ForwardInBatches(features, layers.Count - 1, outputs, batchSize);

    /// <summary>The output values for each sample of <paramref name="features"/>, as a new array.</summary>
    public float[] Predict(float[] features, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(features);
        var outputs = new float[features.Length / InputShape.Size * OutputShape.Size];
        Predict(features, outputs, batchSize);
        return outputs;
    }

    /// <summary>
    /// The activations of the layer named <paramref name="layerName"/> for each sample (feature maps, embeddings),
    /// in inference mode. Safe to call from several threads at once.
    /// </summary>
    public float[] PredictLayer(ReadOnlySpan<float> features, string layerName, int batchSize = 32)
    {
        int index = layers.IndexOf(GetLayer(layerName));
        var result = new float[(long)features.Length / InputShape.Size * layers[index].OutputShape.Size];
        ForwardInBatches(features, index, result, batchSize);
        return result;
    }

    // Inference up to layer lastLayer, batchSize samples at a time, on a rented workspace; its outputs go to outputs.
    private void ForwardInBatches(ReadOnlySpan<float> features, int lastLayer, Span<float> outputs, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int inSize = InputShape.Size, outSize = layers[lastLayer].OutputShape.Size;
        if (features.Length % inSize != 0)
            throw new ArgumentException($"The features hold {features.Length} values, not a whole number of samples of shape {InputShape} ({inSize} values each).", nameof(features));
        int count = features.Length / inSize;
        if (outputs.Length < (long)count * outSize)
            throw new ArgumentException($"{count} samples need {(long)count * outSize} output values; the span has {outputs.Length}.", nameof(outputs));
        Dataset.EnsureFinite(features, inSize, "prediction");
        Workspace ws = RentInferenceWorkspace(Math.Min(batchSize, Math.Max(count, 1)));
        try
        {
            for (int start = 0; start < count; start += ws.Capacity)
            {
                int n = Math.Min(ws.Capacity, count - start);
                features.Slice(start * inSize, n * inSize).CopyTo(ws.Input);
                RunForward(ws, n, training: false, lastLayer);
                ws.Passes[lastLayer].Output.AsSpan(0, n * outSize).CopyTo(outputs.Slice(start * outSize));
            }
        }
        finally
        {
            ReturnInferenceWorkspace(ws);
        }
    }

    /// <summary>Writes the architecture and weights in the versioned network format.</summary>
    public void Save(Stream stream) => NetworkFormat.Write(this, stream);

    /// <summary>Writes the model to a file.</summary>
    public void Save(string path)
    {
        using var file = File.Create(path);
        Save(file);
    }

    /// <summary>Reads a model written by <see cref="Save(Stream)"/>, validating everything; throws <see cref="InvalidDataException"/> on bad data.</summary>
    public static Sequential Load(Stream stream) => NetworkFormat.Read(stream);

    /// <summary>Reads a model from a file.</summary>
    public static Sequential Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No model file at '{path}'.", path);
        using var file = File.OpenRead(path);
        return Load(file);
    }

    private void EnsureClassifier()
    {
        if (OutputShape.Rank != 1 || OutputShape.Size < 2)
            throw new InvalidOperationException($"Training and evaluation need a flat output of at least 2 class scores; the last layer outputs {OutputShape}.");
    }

    private EvaluationResult Evaluate(Dataset data, int start, int count, int batchSize)
    {
        if (count == 0) throw new ArgumentException("Cannot evaluate on no samples.", nameof(data));
        Workspace ws = RentInferenceWorkspace(Math.Min(batchSize, count));
        try
        {
            double lossSum = 0;
            long correct = 0;
            int[] indices = new int[ws.Capacity];
            for (int offset = 0; offset < count; offset += ws.Capacity)
            {
                int n = Math.Min(ws.Capacity, count - offset);
                for (int i = 0; i < n; i++) indices[i] = start + offset + i;
                Gather(data, indices.AsSpan(0, n), ws);
                RunForward(ws, n, training: false);
                lossSum += LossAndGradient(ws, n) * (double)n;
                correct += CountCorrect(ws, n);
            }
            return new EvaluationResult(lossSum / count, (double)correct / count, count);
        }
        finally
        {
            ReturnInferenceWorkspace(ws);
        }
    }

    private Workspace PrepareTraining(int capacity, Optimizer optimizer)
    {
        optimizer.Prepare(parameters.Length);
        if (trainingWorkspace is null || trainingWorkspace.Capacity != capacity || trainingWorkspace.Threads != threads)
            trainingWorkspace = new Workspace(layers, capacity, training: true, threads);
        Layer output = layers[^1];
        output.OutputGradientIsPreActivation = output.OutputActivation == Activation.Softmax;
        return trainingWorkspace;
    }

    private (float Loss, int Correct) TrainStep(Workspace ws, int n, Optimizer optimizer, string where)
    {
        RunForward(ws, n, training: true);
        long started = Stopwatch.GetTimestamp();
        float loss = LossAndGradient(ws, n);
        if (profileTicks is not null) profileTicks[^2] += Stopwatch.GetTimestamp() - started;
        if (!float.IsFinite(loss))
            throw new InvalidOperationException(
                $"The training loss became {loss} at {where}: training diverged. Lower the learning rate or check the inputs' scale.");
        int correct = CountCorrect(ws, n);
        RunBackward(ws, n);
        started = Stopwatch.GetTimestamp();
        optimizer.Step(parameters, gradients, Threading.WorkerPool.ForThreads(ws.Threads));
        if (profileTicks is not null) profileTicks[^1] += Stopwatch.GetTimestamp() - started;
        return (loss, correct);
    }

    private static void Gather(Dataset data, ReadOnlySpan<int> indices, Workspace ws)
    {
        int size = data.SampleShape.Size;
        for (int i = 0; i < indices.Length; i++)
        {
            data.CopySamples(indices[i], 1, ws.Input.AsSpan(i * size));
            ws.Labels[i] = data.Labels[indices[i]];
        }
    }

    private void RunForward(Workspace ws, int n, bool training, int lastLayer = int.MaxValue)
    {
        var pool = Threading.WorkerPool.ForThreads(ws.Threads);
        for (int i = 0; i < layers.Count && i <= lastLayer; i++)
        {
            LayerPass pass = ws.Passes[i];
            pass.Batch = n;
            pass.Training = training;
            pass.Pool = pool;
            pass.Random = training ? TrainingRandom : null;
            long started = Stopwatch.GetTimestamp();
            layers[i].Forward(pass);
            if (profileTicks is not null && training) profileTicks[i] += Stopwatch.GetTimestamp() - started;
        }
    }

    private void RunBackward(Workspace ws, int n)
    {
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            long started = Stopwatch.GetTimestamp();
            layers[i].Backward(ws.Passes[i]);
            if (profileTicks is not null) profileTicks[layers.Count + i] += Stopwatch.GetTimestamp() - started;
        }
    }

    // Mean cross-entropy of the batch; leaves dL/d(logits) in the last layer's output gradient.
    private float LossAndGradient(Workspace ws, int n)
    {
        int classes = ClassCount;
        ReadOnlySpan<float> output = ws.Output.AsSpan(0, n * classes);
        Span<float> gradient = ws.OutputGradient.AsSpan(0, n * classes);
        return layers[^1].OutputActivation == Activation.Softmax
            ? SoftmaxCrossEntropy.FromProbabilities(output, ws.Labels.AsSpan(0, n), classes, gradient)
            : SoftmaxCrossEntropy.FromLogits(output, ws.Labels.AsSpan(0, n), classes, gradient);
    }

    private int CountCorrect(Workspace ws, int n)
    {
        int classes = ClassCount, correct = 0;
        for (int i = 0; i < n; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(ws.Output.AsSpan(i * classes, classes)) == ws.Labels[i]) correct++;
        return correct;
    }

    private Workspace RentInferenceWorkspace(int capacity)
    {
        var bag = inferenceWorkspaces.GetOrAdd((capacity, threads), static _ => []);
        return bag.TryTake(out Workspace? ws) ? ws : new Workspace(layers, capacity, training: false, threads);
    }

    private void ReturnInferenceWorkspace(Workspace ws) =>
        inferenceWorkspaces.GetOrAdd((ws.Capacity, ws.Threads), static _ => []).Add(ws);

    private static string FormatBytes(long bytes) =>
        bytes >= 1 << 20 ? $"{bytes / 1048576.0:F2} MB" : bytes >= 1 << 10 ? $"{bytes / 1024.0:F2} KB" : $"{bytes} B";
}
