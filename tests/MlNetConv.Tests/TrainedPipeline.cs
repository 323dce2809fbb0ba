using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MlNetConv.Tests;

/// <summary>One row of an image index: a path relative to the image root and a class name.</summary>
public sealed class ImageRow
{
    [LoadColumn(0)]
    public string ImagePath { get; set; } = "";

    [LoadColumn(1)]
    public string Label { get; set; } = "";
}

/// <summary>The README's pipeline, trained once on real PNG files for all the tests that need a trained model.</summary>
public sealed class TrainedPipeline : IDisposable
{
    public TrainedPipeline()
    {
        Images = new ImageFolders();
        Ml = new MLContext(seed: 1);
        Train = Ml.Data.LoadFromTextFile<ImageRow>(Images.Train, separatorChar: '\t');
        Test = Ml.Data.LoadFromTextFile<ImageRow>(Images.Test, separatorChar: '\t');
        Model = CreatePipeline(Ml, Images.Root, new ConvNetOptions { Epochs = 4, Threads = 2 }).Fit(Train);
        ModelPath = Path.Combine(Images.Root, "model.zip");
        Ml.Model.Save(Model, Train.Schema, ModelPath);
    }

    public ImageFolders Images { get; }

    public MLContext Ml { get; }

    public IDataView Train { get; }

    public IDataView Test { get; }

    public ITransformer Model { get; }

    public string ModelPath { get; }

    public ConvNetTransformer Cnn => ((IEnumerable<ITransformer>)Model).OfType<ConvNetTransformer>().Single();

    public static IEstimator<ITransformer> Preprocessing(MLContext ml, string imageFolder) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder, "ImagePath"))
            .Append(ml.Transforms.ConvertToGrayscale("Image"))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255));

    public static IEstimator<ITransformer> CreatePipeline(MLContext ml, string imageFolder, ConvNetOptions options) =>
        Preprocessing(ml, imageFolder)
            .Append(ml.MulticlassClassification.Trainers.ConvNet(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    public void Dispose() => Images.Dispose();
}

[CollectionDefinition(nameof(TrainedPipeline))]
public sealed class TrainedPipelineCollection : ICollectionFixture<TrainedPipeline>;
