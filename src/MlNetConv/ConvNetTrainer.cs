using MlNetConv.Core.Data;
using MlNetConv.Core;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv;

/// <summary>
/// Trains a convolutional network as an ML.NET multiclass trainer. Reads the feature column (C·H·W floats per row,
/// channels first, as ExtractPixels writes them) and a key-typed label through the data view's cursor once, trains
/// with the engine (Keras's fit loop), and returns a <see cref="ConvNetTransformer"/>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | Yes |
/// | Input column data type | Feature: known-size vector of Single (C·H·W); Label: key |
/// | Output column data type | Score: vector of Single (class probabilities); PredictedLabel: key |
/// | Required NuGet in addition to Microsoft.ML | MlNetConv |
/// | Exportable to ONNX | Yes: the transformer through ML.NET's ConvertToOnnx, or its network alone with ExportToOnnx |
/// ]]></format>
/// </remarks>
public sealed class ConvNetTrainer : IEstimator<ConvNetTransformer>
{
    private readonly IHost host;

    internal ConvNetTrainer(IHostEnvironment env, ConvNetOptions options)
    {
        host = Contracts.CheckRef(env, nameof(env)).Register(nameof(ConvNetTrainer));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
    }

    /// <summary>The options this trainer was made with.</summary>
    public ConvNetOptions Options { get; }

    /// <summary>Adds Score and PredictedLabel after checking the feature and label columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        if (!inputSchema.TryFindColumn(Options.FeatureColumnName, out var feature))
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "feature", Options.FeatureColumnName);
        if (feature.Kind != SchemaShape.Column.VectorKind.Vector || feature.ItemType != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "feature", Options.FeatureColumnName, "known-size vector of Single", feature.GetTypeString());
        if (!inputSchema.TryFindColumn(Options.LabelColumnName, out var label))
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "label", Options.LabelColumnName);
        if (!label.IsKey)
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "label", Options.LabelColumnName, "key (use MapValueToKey)", label.GetTypeString());

        var columns = inputSchema.ToDictionary(c => c.Name);
        var labelValues = label.Annotations.TryFindColumn(AnnotationUtils.Kinds.KeyValues, out var keyValues) ? new[] { keyValues } : [];
        var scoreAnnotations = new List<SchemaShape.Column>(labelValues.Select(v =>
            new SchemaShape.Column(AnnotationUtils.Kinds.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)))
        {
            new(AnnotationUtils.Kinds.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            new(AnnotationUtils.Kinds.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        };
        columns[Options.ScoreColumnName] = new SchemaShape.Column(Options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false, new SchemaShape(scoreAnnotations));
        columns[Options.PredictedLabelColumnName] = new SchemaShape.Column(Options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, true, new SchemaShape(labelValues));
        return new SchemaShape(columns.Values);
    }

    /// <summary>Reads the training (and validation) data once, trains, and returns the transformer.</summary>
    public ConvNetTransformer Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        using var channel = host.Start("Training the CNN");
        var (shape, classNames) = CheckTrainingSchema(input.Schema, "training");
        Dataset train = DataReader.Read(input, Options, shape, classNames.Count, "training");
        if (train.Count == 0) throw new InvalidOperationException("The training data has no rows.");
        Dataset? validation = null;
        if (Options.ValidationData is { } validationView)
        {
            var (validationShape, validationNames) = CheckTrainingSchema(validationView.Schema, "validation");
            if (validationShape != shape || !validationNames.SequenceEqual(classNames))
                throw new ArgumentException("The validation data's feature shape or label values differ from the training data's.");
            validation = DataReader.Read(validationView, Options, shape, classNames.Count, "validation");
        }

        var network = new Sequential(shape, Options.CreateLayers(classNames.Count), Options.Seed) { Threads = Options.Threads ?? Environment.ProcessorCount };
        if (network.OutputShape.Rank != 1 || network.OutputShape.Size != classNames.Count)
            throw new ArgumentException(
                $"The architecture's last layer outputs {network.OutputShape} but the label column '{Options.LabelColumnName}' has {classNames.Count} classes; " +
                $"end the layers with Dense({classNames.Count}, Activation.Softmax).");
        channel.Info(MessageSensitivity.None, "{0}", network.Summary());
        var progress = new Progress(channel, Options.Progress);
        network.Fit(train, new FitOptions
        {
            Epochs = Options.Epochs,
            BatchSize = Options.BatchSize,
            ValidationSplit = validation is null ? Options.ValidationSplit : 0,
            ValidationData = validation,
            Optimizer = Options.CreateOptimizer(),
            EarlyStopping = Options.EarlyStopping,
            ReduceLearningRateOnPlateau = Options.ReduceLearningRateOnPlateau,
            LabelSmoothing = Options.LabelSmoothing,
            BatchProgress = Options.BatchProgress,
        }, progress, Options.CancellationToken);
        return new ConvNetTransformer(host, network, classNames, Options.FeatureColumnName, Options.ScoreColumnName, Options.PredictedLabelColumnName);
    }

    // The feature column must be a known-size Single vector whose size matches the shape (from the column's
    // dimensions when ExtractPixels gives (C, H, W), else from the options); the label a key with text values.
    private (Shape Shape, IReadOnlyList<string> ClassNames) CheckTrainingSchema(DataViewSchema schema, string role)
    {
        var feature = schema.GetColumnOrNull(Options.FeatureColumnName)
            ?? throw host.ExceptSchemaMismatch(nameof(schema), "feature", Options.FeatureColumnName);
        if (feature.Type is not VectorDataViewType { ItemType: var item } vector || item != NumberDataViewType.Single || !vector.IsKnownSize)
            throw host.ExceptSchemaMismatch(nameof(schema), "feature", Options.FeatureColumnName, "known-size vector of Single", feature.Type.ToString());
        Shape shape = vector.Dimensions.Length == 3
            ? Shape.Image(vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2])
            : Options.InputShape ?? throw new ArgumentException(
                $"The {role} feature column '{Options.FeatureColumnName}' is {vector} without (C, H, W) dimensions; set ConvNetOptions.InputShape.");
        if (Options.InputShape is { } expected && expected.Size != vector.Size)
            throw host.ExceptSchemaMismatch(nameof(schema), "feature", Options.FeatureColumnName,
                $"Vector<Single, {expected.Size}> (InputShape {expected})", vector.ToString());
        if (Options.InputShape is { } given && vector.Dimensions.Length != 3) shape = given;

        var label = schema.GetColumnOrNull(Options.LabelColumnName)
            ?? throw host.ExceptSchemaMismatch(nameof(schema), "label", Options.LabelColumnName);
        if (label.Type is not KeyDataViewType key)
            throw host.ExceptSchemaMismatch(nameof(schema), "label", Options.LabelColumnName, "key (use MapValueToKey)", label.Type.ToString());
        if (key.Count < 2 || key.Count > int.MaxValue)
            throw new ArgumentException($"The {role} label column '{Options.LabelColumnName}' has {key.Count} values; a classifier needs at least 2.");
        return (shape, KeyNames(label, (int)key.Count));
    }

    // The label's key values as text (what MapKeyToValue will give back), or "0", "1", ... when it has none.
    private static IReadOnlyList<string> KeyNames(DataViewSchema.Column label, int count)
    {
        var names = new string[count];
        if (label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues) is { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            label.GetKeyValues(ref values);
            int i = 0;
            foreach (var value in values.DenseValues()) names[i++] = value.ToString();
        }
        else if (label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues) is { } other)
            throw new ArgumentException($"The label column '{label.Name}' has key values of type {other.Type}; MlNetConv keeps text class names, so map the label from text (MapValueToKey on a string column).");
        else
            for (int i = 0; i < count; i++) names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return names;
    }

    // Epoch results go to ML.NET's log and to the user's IProgress, on the training thread.
    private sealed class Progress(IChannel channel, IProgress<EpochResult>? user) : IProgress<EpochResult>
    {
        public void Report(EpochResult e)
        {
            channel.Info(MessageSensitivity.None,
                "epoch {0}: loss {1:F4} accuracy {2:F4} val_loss {3:F4} val_accuracy {4:F4} ({5:F1} s, {6:F0} images/s)",
                e.Epoch, e.Loss, e.Accuracy, e.ValidationLoss ?? double.NaN, e.ValidationAccuracy ?? double.NaN, e.Duration.TotalSeconds, e.SamplesPerSecond);
            user?.Report(e);
        }
    }
}
