using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MlNetConv.Core.Data;
using MlNetConv.Core.Layers;
using MlNetConv;
using MlNetConv.Data;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Hosting.Tests;

/// <summary>
/// Two small model zips trained in the test run on real PNG files (the LoadImages pipeline the worker needs), and a pool
/// of test PNGs to drop into inboxes.
/// </summary>
public sealed class Models : IDisposable
{
    public Models()
    {
        Root = Directory.CreateTempSubdirectory("mlnetconv-hosting").FullName;
        string trainIndex = Path.Combine(Root, "train.tsv");
        FashionMnistData.ExportPngFolders(RepositoryData.Train.Slice(0, 600), FashionMnist.ClassNames, Path.Combine(Root, "train"), trainIndex);
        PoolIndex = Path.Combine(Root, "pool.tsv");
        FashionMnistData.ExportPngFolders(RepositoryData.Test.Slice(0, PoolSize), FashionMnist.ClassNames, Path.Combine(Root, "pool"), PoolIndex);
        Pool = File.ReadLines(PoolIndex).Select(line => Path.Combine(Root, line.Split('\t')[0])).ToArray();
        ModelA = Train(trainIndex, seed: 1, "a.zip");
        ModelB = Train(trainIndex, seed: 2, "b.zip");
        ModelWithOwnNames = TrainWithOwnNames(trainIndex);
    }

    public const int PoolSize = 300;

    public string Root { get; }

    /// <summary>Test images (real Fashion-MNIST PNGs), in a folder the worker never touches.</summary>
    public string[] Pool { get; }

    public string PoolIndex { get; }

    public string ModelA { get; }

    public string ModelB { get; }

    /// <summary>A model whose columns are not the defaults: paths in "File", labels in "Category", scores in "Probabilities".</summary>
    public string ModelWithOwnNames { get; }

    private string Train(string index, int seed, string name) => Train(index, seed, name, DefaultColumns);

    private string TrainWithOwnNames(string index) =>
        Train(index, seed: 3, "own-names.zip", new Columns("File", "Category", "Picture", "Pixels", "Probabilities", "Class"));

    private static readonly Columns DefaultColumns = new("ImagePath", "Label", "Image", "Features", "Score", "PredictedLabel");

    private string Train(string index, int seed, string name, Columns columns)
    {
        var ml = new MLContext(seed: seed);
        IDataView data = ml.Data.LoadFromTextFile(index,
            [new TextLoader.Column(columns.Path, DataKind.String, 0), new TextLoader.Column(columns.Label, DataKind.String, 1)], separatorChar: '\t');
        var pipeline = ml.Transforms.Conversion.MapValueToKey(columns.Label)
            .Append(ml.Transforms.LoadImages(columns.Image, Root, columns.Path))
            .Append(ml.Transforms.ConvertToGrayscale(columns.Image))
            .Append(ml.Transforms.ResizeImages(columns.Image, 28, 28))
            .Append(ml.Transforms.ExtractPixels(columns.Features, columns.Image, colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
            .Append(ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions
            {
                FeatureColumnName = columns.Features,
                LabelColumnName = columns.Label,
                ScoreColumnName = columns.Score,
                PredictedLabelColumnName = columns.Predicted,
                Layers = [new Conv2D(8, 3, 2, activation: Activation.Relu), new Flatten(), new Dense(10, Activation.Softmax)],
                Epochs = 3,
                Seed = seed,
                ValidationSplit = 0,
                EarlyStopping = null,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue(columns.Predicted));
        string path = Path.Combine(Root, name);
        ml.Model.Save(pipeline.Fit(data), data.Schema, path);
        return path;
    }

    /// <summary>The column names a test model is trained with.</summary>
    private sealed record Columns(string Path, string Label, string Image, string Features, string Score, string Predicted);

    public void Dispose() => Directory.Delete(Root, recursive: true);

    public sealed class ImageRow
    {
        [LoadColumn(0)]
        public string ImagePath { get; set; } = "";

        [LoadColumn(1)]
        public string Label { get; set; } = "";
    }

    public sealed class NamedImageRow
    {
        [LoadColumn(0)]
        public string File { get; set; } = "";

        [LoadColumn(1)]
        public string Category { get; set; } = "";
    }
}

/// <summary>The worker tests share the trained models and one private RabbitMQ node; they run one after another.</summary>
[CollectionDefinition(nameof(Models))]
public sealed class ModelsCollection : ICollectionFixture<Models>, ICollectionFixture<RabbitMqNode>;
