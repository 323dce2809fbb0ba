using System.Diagnostics;
using System.Globalization;
using System.Text;
using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Serialization;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core;

/// <summary>
/// A stack of layers, Keras's <c>Sequential</c>: built from an input shape (C, H, W), summarised, evaluated, used for
/// prediction, saved and loaded, and differentiated: <see cref="ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, float)"/>
/// gives a batch's loss and every parameter's gradient. Training (<c>Fit</c>, <c>TrainOnBatch</c>) lives in
/// <c>MlNetConv.Core.Training</c> as extension methods. All parameters live in one buffer. The output layer gives class
/// scores; the loss is sparse categorical cross-entropy (fused with a final softmax). For a given seed, results are
/// the same bits for any <see cref="Threads"/> value.
/// </summary>
public sealed class Sequential
{
    private readonly List<Layer> layers = [];
    private readonly float[] parameters;
    private readonly float[] gradients;
    private readonly InferenceWorkspaces inferenceWorkspaces;
    private Workspace? trainingWorkspace;
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
            layer.BuildShape(shape);
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
            layer.BindParameters(new ArraySegment<float>(parameters, offset, layer.ParameterCount));
            layer.InitializeParameters(random);
            offset += layer.ParameterCount;
        }
        // The training stream (shuffling, dropout) is separate from initialisation, so adding a layer's
        // parameters does not change which samples a batch holds.
        TrainingRandom = new Random(unchecked(seed * 31 + 17));
        inferenceWorkspaces = new InferenceWorkspaces(this.layers);
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

    /// <summary>Floats the layers keep without training them (BatchNormalization's moving statistics).</summary>
    public int NonTrainableParameterCount => layers.Sum(l => l.NonTrainableParameterCount);

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

    /// <summary>The training stream: shuffling and dropout masks.</summary>
    internal Random TrainingRandom { get; }

    /// <summary>Every parameter, layer by layer (kernel, then bias): the layout of the gradients.</summary>
    internal float[] ParameterBuffer => parameters;

    /// <summary>Says <see cref="ParameterBuffer"/> was written (an update, a restore): every layer's parameters may have changed.</summary>
    internal void ParametersChanged()
    {
        foreach (Layer layer in layers) layer.ParametersChanged();
    }

    /// <summary>What the last training pass left: dL/dParameters in the layout of <see cref="ParameterBuffer"/>.</summary>
    internal float[] GradientBuffer => gradients;

    /// <summary>Finds a layer by name.</summary>
    public Layer GetLayer(string name) =>
        layers.FirstOrDefault(l => l.Name == name) ?? throw new ArgumentException(
            $"No layer named '{name}'; the layers are {string.Join(", ", layers.Select(l => l.Name))}.", nameof(name));

    /// <summary>The Keras-style table of layers, output shapes (channels first) and parameter counts.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        // Keras's columns (33, 22, 12 wide), the first widened to the longest "name (Type)" so rows stay aligned.
        string[] names = [.. layers.Select(l => $"{l.Name} ({l.TypeName})")];
        int nameWidth = Math.Max(33, names.Max(n => n.Length) + 1), width = nameWidth + 39;
        string rule = new('_', width), doubleRule = new('=', width);
        text.AppendLine(CultureInfo.InvariantCulture, $"Model: \"{Name}\"");
        text.AppendLine(rule);
        text.AppendLine(" " + "Layer (type)".PadRight(nameWidth) + " " + "Output Shape".PadRight(22) + "Param #".PadLeft(14));
        text.AppendLine(doubleRule);
        for (int i = 0; i < layers.Count; i++)
            text.AppendLine(CultureInfo.InvariantCulture,
                $" {names[i].PadRight(nameWidth)} {layers[i].OutputShape.ToBatchString(),-22} {layers[i].ParameterCount + layers[i].NonTrainableParameterCount,12:N0}");
        text.AppendLine(doubleRule);
        int frozen = NonTrainableParameterCount, total = ParameterCount + frozen;
        text.AppendLine(CultureInfo.InvariantCulture, $"Total params: {total:N0} ({FormatBytes(total * 4L)})");
        text.AppendLine(CultureInfo.InvariantCulture, $"Trainable params: {ParameterCount:N0} ({FormatBytes(ParameterCount * 4L)})");
        text.AppendLine(CultureInfo.InvariantCulture, $"Non-trainable params: {frozen:N0} ({FormatBytes(frozen * 4L)})");
        return text.ToString();
    }

    /// <summary>
    /// The mean cross-entropy of one batch and dL/dParameters for every parameter, without changing the weights (what
    /// Keras's <c>GradientTape</c> gives for <c>model.trainable_variables</c>). <paramref name="features"/> holds N samples of
    /// <see cref="InputShape"/>, <paramref name="labels"/> their N class indices; the forward pass runs in training mode
    /// (dropout active, its masks from the model's training stream). <paramref name="gradients"/> receives
    /// <see cref="ParameterCount"/> values laid out layer by layer, each layer's as its <see cref="Layer.GetWeights"/>
    /// (kernel, then bias). An optimizer's <c>ApplyGradients</c> takes them. Allocates nothing once warmed up for the batch size.
    /// </summary>
    /// <returns>The batch's mean loss.</returns>
    /// <param name="features">N samples of <see cref="InputShape"/>.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="gradients">Receives <see cref="ParameterCount"/> values.</param>
    /// <param name="labelSmoothing">Smoothing s of the targets in [0, 1): (1 − s)·onehot + s/K (Keras's label_smoothing).</param>
    public float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<int> labels, Span<float> gradients, float labelSmoothing = 0)
    {
        if (gradients.Length != parameters.Length)
            throw new ArgumentException($"The model has {parameters.Length} parameters; the gradient span has {gradients.Length}.", nameof(gradients));
        CheckLabelSmoothing(labelSmoothing);
        Workspace ws = LoadTrainingBatch(features, labels);
        float loss = TrainingStep(ws, labels.Length, "this batch", labelSmoothing).Loss;
        this.gradients.CopyTo(gradients);
        return loss;
    }

    /// <summary>
    /// <see cref="ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, float)"/> into a new <see cref="ModelGradients"/>,
    /// which also splits the gradients by layer.
    /// </summary>
    public ModelGradients ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<int> labels, float labelSmoothing = 0)
    {
        var values = new float[parameters.Length];
        float loss = ComputeGradients(features, labels, values, labelSmoothing);
        return new ModelGradients(loss, values, layers);
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
        Workspace ws = inferenceWorkspaces.Rent(Math.Min(batchSize, Math.Max(count, 1)), threads);
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
            inferenceWorkspaces.Return(ws);
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

    /// <summary>Throws unless a label smoothing is in [0, 1).</summary>
    internal static void CheckLabelSmoothing(float labelSmoothing)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1).");
    }

    /// <summary>Throws unless the last layer outputs flat class scores, which training and evaluation need.</summary>
    internal void EnsureClassifier()
    {
        if (OutputShape.Rank != 1 || OutputShape.Size < 2)
            throw new InvalidOperationException($"Training and evaluation need a flat output of at least 2 class scores; the last layer outputs {OutputShape}.");
    }

    /// <summary>Loss and accuracy over samples [start, start + count) of <paramref name="data"/>, already validated (a validation split).</summary>
    internal EvaluationResult Evaluate(Dataset data, int start, int count, int batchSize, float labelSmoothing = 0)
    {
        if (count == 0) throw new ArgumentException("Cannot evaluate on no samples.", nameof(data));
        Workspace ws = inferenceWorkspaces.Rent(Math.Min(batchSize, count), threads);
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
                lossSum += LossAndGradient(ws, n, labelSmoothing) * (double)n;
                correct += CountCorrect(ws, n);
            }
            return new EvaluationResult(lossSum / count, (double)correct / count, count);
        }
        finally
        {
            inferenceWorkspaces.Return(ws);
        }
    }

    /// <summary>The training workspace for batches of up to <paramref name="capacity"/> samples on the current threads, made once and kept.</summary>
    internal Workspace TrainingWorkspace(int capacity)
    {
        EnsureClassifier();
        if (trainingWorkspace is null || trainingWorkspace.Capacity != capacity || trainingWorkspace.Threads != threads)
            trainingWorkspace = new Workspace(layers, capacity, gradients, threads);
        return trainingWorkspace;
    }

    /// <summary>Checks one caller-given batch and copies it into the training workspace (kept when it is large enough).</summary>
    internal Workspace LoadTrainingBatch(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        EnsureClassifier();
        int n = labels.Length;
        if (n == 0) throw new ArgumentException("A batch needs at least one sample.", nameof(labels));
        if (features.Length != (long)n * InputShape.Size)
            throw new ArgumentException($"{n} labels need {(long)n * InputShape.Size} feature values of shape {InputShape}; got {features.Length}.", nameof(features));
        Dataset.EnsureFinite(features, InputShape.Size, "training");
        foreach (int label in labels)
            if ((uint)label >= (uint)ClassCount) throw new ArgumentException($"Label {label} is outside the model's {ClassCount} classes (0..{ClassCount - 1}).", nameof(labels));
        Workspace ws = TrainingWorkspace(trainingWorkspace is { } current && current.Capacity >= n && current.Threads == threads ? current.Capacity : n);
        features.CopyTo(ws.Input);
        labels.CopyTo(ws.Labels);
        return ws;
    }

    /// <summary>
    /// Forward in training mode, loss, backward: leaves dL/dParameters in <see cref="GradientBuffer"/> and returns the mean loss and
    /// the samples classified correctly. <paramref name="ticks"/>, when given, accumulates Stopwatch ticks per layer forward,
    /// per layer backward, then the loss. <paramref name="where"/> names the batch in the divergence error.
    /// </summary>
    internal (float Loss, int Correct) TrainingStep(Workspace ws, int n, string where, float labelSmoothing = 0, long[]? ticks = null)
    {
        RunForward(ws, n, training: true, ticks: ticks);
        long started = Stopwatch.GetTimestamp();
        float loss = LossAndGradient(ws, n, labelSmoothing);
        if (ticks is not null) ticks[2 * layers.Count] += Stopwatch.GetTimestamp() - started;
        if (!float.IsFinite(loss))
            throw new InvalidOperationException(
                $"The training loss became {loss} at {where}: training diverged. Lower the learning rate or check the inputs' scale.");
        int correct = CountCorrect(ws, n);
        RunBackward(ws, ticks);
        return (loss, correct);
    }

    /// <summary>Copies the samples at <paramref name="indices"/> and their labels into the workspace's first rows.</summary>
    internal static void Gather(Dataset data, ReadOnlySpan<int> indices, Workspace ws)
    {
        int size = data.SampleShape.Size;
        for (int i = 0; i < indices.Length; i++)
        {
            data.CopySamples(indices[i], 1, ws.Input.AsSpan(i * size));
            ws.Labels[i] = data.Labels[indices[i]];
        }
    }

    private void RunForward(Workspace ws, int n, bool training, int lastLayer = int.MaxValue, long[]? ticks = null)
    {
        var pool = Threading.WorkerPool.ForThreads(ws.Threads);
        for (int i = 0; i < layers.Count && i <= lastLayer; i++)
        {
            LayerPass pass = ws.Passes[i];
            pass.Batch = n;
            pass.Training = training;
            pass.Pool = pool;
            pass.Random = training ? TrainingRandom : null;
            // Inference runs the layers that work image by image right after the layer that leads them, on each image
            // (LayerPass.Followers), as far as outputs are wanted; their own passes are then skipped.
            int followers = 0;
            if (!training && layers[i].LeadsImageByImage)
                while (i + followers + 1 < layers.Count && i + followers + 1 <= lastLayer && layers[i + followers + 1].InfersImageByImage) followers++;
            pass.Followers = new ArraySegment<LayerPass>(ws.Passes, i + 1, followers);
            foreach (LayerPass follower in pass.Followers)
            {
                follower.Batch = n;
                follower.Layer.BeginImageByImage(follower);
            }
            long started = Stopwatch.GetTimestamp();
            layers[i].ForwardPass(pass);
            if (ticks is not null) ticks[i] += Stopwatch.GetTimestamp() - started;
            i += followers;
            // Training: the layer this one ran too (LayerPass.Fused) is skipped.
            if (training && pass.Fused is { } fused)
            {
                (fused.Batch, fused.Training, fused.Pool, fused.Random) = (n, true, pool, TrainingRandom);
                i++;
            }
        }
    }

    private void RunBackward(Workspace ws, long[]? ticks)
    {
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            // A layer that the layer before it runs (LayerPass.Fused) has no pass of its own.
            if (i > 0 && ws.Passes[i - 1].Fused == ws.Passes[i]) continue;
            long started = Stopwatch.GetTimestamp();
            layers[i].BackwardPass(ws.Passes[i]);
            if (ticks is not null) ticks[layers.Count + i] += Stopwatch.GetTimestamp() - started;
        }
    }

    // Mean cross-entropy of the batch; leaves dL/d(logits) in the last layer's output gradient.
    private float LossAndGradient(Workspace ws, int n, float labelSmoothing)
    {
        int classes = ClassCount;
        ReadOnlySpan<float> output = ws.Output.AsSpan(0, n * classes);
        Span<float> gradient = ws.OutputGradient.AsSpan(0, n * classes);
        return layers[^1].OutputActivation == Activation.Softmax
            ? SoftmaxCrossEntropy.FromProbabilities(output, ws.Labels.AsSpan(0, n), classes, gradient, labelSmoothing)
            : SoftmaxCrossEntropy.FromLogits(output, ws.Labels.AsSpan(0, n), classes, gradient, labelSmoothing);
    }

    private int CountCorrect(Workspace ws, int n)
    {
        int classes = ClassCount, correct = 0;
        for (int i = 0; i < n; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(ws.Output.AsSpan(i * classes, classes)) == ws.Labels[i]) correct++;
        return correct;
    }

    private static string FormatBytes(long bytes) =>
        bytes >= 1 << 20 ? $"{bytes / 1048576.0:F2} MB" : bytes >= 1 << 10 ? $"{bytes / 1024.0:F2} KB" : $"{bytes:F2} B";
}
