// Trains the CNN on labelled image files, evaluates it, saves and reloads the model zip, and predicts one image.
// dotnet run -- IMAGE_FOLDER TRAIN_TSV TEST_TSV [EPOCHS]   (index lines "path<TAB>label", paths relative to IMAGE_FOLDER)
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MlNetConv;

string imageFolder = args[0], trainIndex = args[1], testIndex = args[2];
int epochs = args.Length > 3 ? int.Parse(args[3]) : 20;

var ml = new MLContext(seed: 1);
IDataView train = ml.Data.LoadFromTextFile<ImageRow>(trainIndex, separatorChar: '\t');
IDataView test = ml.Data.LoadFromTextFile<ImageRow>(testIndex, separatorChar: '\t');
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages("Image", imageFolder, "ImagePath"))
    .Append(ml.Transforms.ConvertToGrayscale("Image"))
    .Append(ml.Transforms.ResizeImages("Image", 28, 28))
    .Append(ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
    .Append(ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions { Epochs = epochs }))   // the textbook CNN by default
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);
ConvNetTransformer cnn = model.OfType<ConvNetTransformer>().Single();       // the trained CNN inside the fitted chain
Console.WriteLine(cnn.Network.Summary());                                   // Keras-style table, 333,526 parameters

var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");

ml.Model.Save(model, train.Schema, "model.zip");
// Any process can load the zip, even one that never mentions MlNetConv: ML.NET loads the assembly named in it.
var loaded = new MLContext().Model.Load("model.zip", out _);
var reloadedCnn = ((TransformerChain<ITransformer>)loaded).OfType<ConvNetTransformer>().Single();
Console.WriteLine($"reloaded: {reloadedCnn.Network.ParameterCount:N0} parameters, classes {string.Join(", ", reloadedCnn.ClassNames)}");

var engine = ml.Model.CreatePredictionEngine<ImageRow, ImagePrediction>(loaded);
var image = ml.Data.CreateEnumerable<ImageRow>(test, reuseRowObject: false).First();
var prediction = engine.Predict(image);
Console.WriteLine($"{image.ImagePath}: predicted {prediction.PredictedLabel} ({prediction.Score.Max():P1}), labelled {image.Label}");

public sealed class ImageRow
{
    [LoadColumn(0)] public string ImagePath { get; set; } = "";
    [LoadColumn(1)] public string Label { get; set; } = "";
}

public sealed class ImagePrediction
{
    [ColumnName("PredictedLabel")] public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}
