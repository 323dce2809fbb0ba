using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Tests;

/// <summary>What ML.NET's TestEstimatorCore checks: schema propagation, invalid input failing in both GetOutputSchema and Fit, save and load.</summary>
public class EstimatorConventionTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>A small in-memory data set: 28×28 images as known-size vectors with text labels.</summary>
    internal static IDataView InMemory(int count, int start = 0, Func<int, string>? label = null)
    {
        var rows = Enumerable.Range(start, count).Select(i => new VectorRow
        {
            Features = TestData.Train.SamplesToArray(i, 1),
            Label = label?.Invoke(i) ?? MlNetConv.Core.Data.FashionMnist.ClassNames[TestData.Train.Labels[i]],
        });
        return Ml.Data.LoadFromEnumerable(rows);
    }

    internal static ConvNetOptions Small(int epochs = 1) => new()
    {
        InputShape = Shape.Image(1, 28, 28),
        Layers = [new Conv2D(4, 3, 2, activation: Activation.Relu), new Flatten(), new Dense(10, Activation.Softmax)],
        Epochs = epochs,
        ValidationSplit = 0,
        EarlyStopping = null,
    };

    [Fact]
    public void OutputSchemaIsPropagatedBeforeAndAfterFitting()
    {
        var estimator = Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.MulticlassClassification.Trainers.ConvNet(Small()));
        IDataView data = InMemory(100);
        SchemaShape shape = estimator.GetOutputSchema(SchemaShape.Create(data.Schema));
        Assert.True(shape.TryFindColumn("Score", out var score));
        Assert.Equal(SchemaShape.Column.VectorKind.Vector, score.Kind);
        Assert.True(shape.TryFindColumn("PredictedLabel", out var predicted));
        Assert.True(predicted.IsKey);
        Assert.True(predicted.Annotations.TryFindColumn(AnnotationUtils.Kinds.KeyValues, out _));

        DataViewSchema schema = estimator.Fit(data).GetOutputSchema(data.Schema);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 10), schema["Score"].Type);
        Assert.Equal(new KeyDataViewType(typeof(uint), 10), schema["PredictedLabel"].Type);
        Assert.True(shape.TryFindColumn("Features", out _));
    }

    [Fact]
    public void ANonKeyLabelFailsInGetOutputSchemaAndInFit()
    {
        var trainer = Ml.MulticlassClassification.Trainers.ConvNet(Small());
        IDataView data = InMemory(32);
        var inSchema = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShape.Create(data.Schema)));
        Assert.Contains("Label", inSchema.Message);
        Assert.Contains("key", inSchema.Message);
        var inFit = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        Assert.Contains("Label", inFit.Message);
    }

    [Fact]
    public void AMissingFeatureColumnFailsInGetOutputSchemaAndInFit()
    {
        var trainer = Ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions { FeatureColumnName = "Pixels" });
        IDataView data = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(InMemory(32)).Transform(InMemory(32));
        Assert.Contains("Pixels", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShape.Create(data.Schema))).Message);
        Assert.Contains("Pixels", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data)).Message);
    }

    [Fact]
    public void AFeatureSizeThatDoesNotMatchTheShapeIsNamed()
    {
        var options = Small();
        options.InputShape = Shape.Image(3, 28, 28);
        IDataView data = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(InMemory(32)).Transform(InMemory(32));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.MulticlassClassification.Trainers.ConvNet(options).Fit(data));
        Assert.Contains("Features", error.Message);
        Assert.Contains("2352", error.Message);
        Assert.Contains("784", error.Message);
    }

    [Fact]
    public void AFittedTransformerRefusesDataWithTheWrongFeatureSize()
    {
        var model = Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.MulticlassClassification.Trainers.ConvNet(Small())).Fit(InMemory(100));
        var wrong = Ml.Data.LoadFromEnumerable(new[] { new SmallRow { Features = new float[100], Label = "Bag" } });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(wrong));
        Assert.Contains("Features", error.Message);
        Assert.Contains("Vector<Single, 784>", error.Message);
    }

    [Theory]
    [InlineData("small")]
    [InlineData("modern layers")]
    public void SavedAndLoadedInProcessGivesTheSameScores(string architecture)
    {
        ConvNetOptions options = Small();
        if (architecture == "modern layers")
            options.Layers =
            [
                new RandomFlip(FlipMode.Horizontal), new RandomTranslation(0.1, 0.1), new Conv2D(4, 3, 2, useBias: false), new BatchNormalization(),
                new ActivationLayer(Activation.Relu), new GlobalMaxPooling2D(), new Dense(10, Activation.Softmax),
            ];
        var model = Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.MulticlassClassification.Trainers.ConvNet(options)).Fit(InMemory(100));
        IDataView test = InMemory(20, start: 500);
        using var stream = new MemoryStream();
        Ml.Model.Save(model, test.Schema, stream);
        stream.Position = 0;
        ITransformer loaded = Ml.Model.Load(stream, out _);
        Assert.Equal(model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), loaded.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void AMissingLabelColumnFailsInGetOutputSchemaAndInFit()
    {
        var options = Small();
        options.LabelColumnName = "Class";
        var trainer = Ml.MulticlassClassification.Trainers.ConvNet(options);
        IDataView data = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(InMemory(32)).Transform(InMemory(32));
        Assert.Contains("Class", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShape.Create(data.Schema))).Message);
        Assert.Contains("Class", Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data)).Message);
    }

    [Fact]
    public void EpochsAreReportedToTheLogAndToProgress()
    {
        var ml = new MLContext(seed: 2);
        var logged = new List<string>();
        ml.Log += (_, e) => { lock (logged) logged.Add(e.Message); };
        var epochs = new List<Core.Training.EpochResult>();
        var options = Small(epochs: 2);
        options.Progress = new Inline<Core.Training.EpochResult>(epochs.Add);
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ConvNet(options)).Fit(InMemory(100));
        Assert.Equal([1, 2], epochs.Select(e => e.Epoch));
        Assert.Equal(2, logged.Count(m => m.Contains("epoch ") && m.Contains("images/s")));
        Assert.Contains(logged, m => m.Contains("Total params"));
    }

    [Fact]
    public void TheModernTrainingSettingsReachTheEngine()
    {
        var ml = new MLContext(seed: 3);
        var epochs = new List<Core.Training.EpochResult>();
        var options = Small(epochs: 2);
        options.Optimizer = ConvNetOptimizer.AdamW;
        options.LearningRate = new Core.Training.CosineDecay(0f, decaySteps: 4, warmupTarget: 0.002f, warmupSteps: 2);
        options.LabelSmoothing = 0.1f;
        options.BatchSize = 25;
        options.Progress = new Inline<Core.Training.EpochResult>(epochs.Add);
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ConvNet(options)).Fit(InMemory(100));
        // 4 updates per epoch: epoch 1 ends on update 3 (step 3: 1 step into the decay), epoch 2 past the decay's end.
        Assert.Equal(0.002 * 0.5 * (1 + Math.Cos(Math.PI / 4)), epochs[0].LearningRate, 6);
        Assert.Equal(0f, epochs[1].LearningRate);

        options.ReduceLearningRateOnPlateau = new Core.Training.ReduceLROnPlateau();
        var error = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvNet(options));
        Assert.Equal("ReduceLearningRateOnPlateau", error.ParamName);
        Assert.Contains("CosineDecay", error.Message);
        options.ReduceLearningRateOnPlateau = null;
        options.LabelSmoothing = -0.1f;
        Assert.Equal("LabelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ConvNet(options)).ParamName);
    }

    private sealed class Inline<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }

    public sealed class VectorRow
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class SmallRow
    {
        [VectorType(100)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }
}
