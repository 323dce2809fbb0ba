// The course's "classify fashion products with a CNN", in .NET: the Keras textbook CNN trained on Fashion-MNIST inside
// an ML.NET pipeline, as the textbook does it (20% validation, Adam, batch 32, early stopping with patience 2 and
// restore-best, up to 20 epochs), then a test report, model.zip, model.onnx (checked by ONNX Runtime), and the course's
// pictures.
using System.Diagnostics;
using System.Globalization;
using FashionMnistExample;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MlNetConv.Core;
using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv;
using MlNetConv.Data;
using MlNetConv.Visualization;
using MlNetConv.Core.Training;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = CommandLine.Parse(args);
if (options is null) return 2;
if (options.Help)
{
    Console.WriteLine(CommandLine.Usage);
    return 0;
}
var clock = Stopwatch.StartNew();

// User errors (a missing data directory or file, a failed download, a bad model zip, an unwritable output folder)
// end the program with one line "error: …" on stderr and exit code 1; bad arguments exit with 2 (CommandLine.Parse).
try
{
    // ---- data
    if (options.DataDir is { } given && !Directory.Exists(given))
        throw new DirectoryNotFoundException($"--data {given}: no such directory; it should hold the four Fashion-MNIST IDX files (train-images-idx3-ubyte.gz …).");
    string dataDir = options.DataDir ?? CommandLine.ShippedSubset();
    if (options.Download)
    {
        Console.WriteLine($"downloading Fashion-MNIST into {options.CacheDir} (checksums verified)");
        dataDir = await FashionMnistDownload.DownloadAsync(options.CacheDir, options.Mirrors, progress: new InlineProgress<DownloadProgress>(p =>
        {
            if (!Console.IsOutputRedirected) Console.Write($"\r  {p.File}: {p.Bytes / 1048576.0:F1} of {(p.TotalBytes ?? 0) / 1048576.0:F1} MiB   ");
        }));
        Console.WriteLine();
    }
    var (train, test) = FashionMnist.Load(dataDir);
    Console.WriteLine($"data: {Path.GetFullPath(dataDir)}: {train.Count:N0} training and {test.Count:N0} test images, 28×28 grayscale");
    string output = Directory.CreateDirectory(options.OutputDir).FullName;

    var ml = new MLContext(seed: options.Seed);
    IDataView trainView, testView;
    IEstimator<ITransformer> preprocessing;
    if (options.FromPng)
    {
        // What a user with their own labelled images does: files in class folders, an index, and ML.NET's image transforms.
        string pngRoot = Path.Combine(output, "png");
        Console.WriteLine($"exporting the images as PNG files under {pngRoot}");
        FashionMnistData.ExportPngFolders(train, FashionMnist.ClassNames, Path.Combine(pngRoot, "train"), Path.Combine(pngRoot, "train.tsv"));
        FashionMnistData.ExportPngFolders(test, FashionMnist.ClassNames, Path.Combine(pngRoot, "test"), Path.Combine(pngRoot, "test.tsv"));
        trainView = ml.Data.LoadFromTextFile<ImageRow>(Path.Combine(pngRoot, "train.tsv"), separatorChar: '\t');
        testView = ml.Data.LoadFromTextFile<ImageRow>(Path.Combine(pngRoot, "test.tsv"), separatorChar: '\t');
        preprocessing = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.Transforms.LoadImages("Image", pngRoot, "ImagePath"))
            .Append(ml.Transforms.ConvertToGrayscale("Image"))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255));
    }
    else
    {
        // The fast default: the IDX arrays served as a data view (Features and a Label key carrying the class names).
        trainView = new DatasetDataView(train, FashionMnist.ClassNames);
        testView = new DatasetDataView(test, FashionMnist.ClassNames);
        preprocessing = new EstimatorChain<ITransformer>();
    }

    // ---- the model
    Console.WriteLine();
    Layer[] architecture = options.Modern ? Architectures.ModernCnn() : Architectures.TextbookCnn();
    Console.WriteLine(new Sequential(FashionMnist.ImageShape, architecture, options.Seed).Summary());
    double validationSplit = options.Modern ? 0.1 : 0.2;
    Console.WriteLine($"SIMD {Simd.Best}, {options.Threads} threads; {validationSplit * 100:0}% of the training images held out for validation");
    var epochs = new List<EpochResult>();
    ConsoleReport.EpochHeader();
    var settings = new ConvNetOptions
    {
        Layers = options.Modern ? Architectures.ModernCnn() : null,
        Epochs = options.Epochs,
        BatchSize = options.BatchSize,
        Seed = options.Seed,
        Threads = options.Threads,
        ValidationSplit = validationSplit,
        EarlyStopping = new EarlyStopping(Patience: 2, RestoreBestWeights: true),
        Progress = new InlineProgress<EpochResult>(e =>
        {
            epochs.Add(e);
            Console.WriteLine(ConsoleReport.EpochLine(e));
        }),
    };
    if (options.Modern)
    {
        // The modern recipe: AdamW, a one-epoch linear warm-up to 2e-3 then a cosine to zero over the remaining epochs,
        // label smoothing 0.1; every epoch runs (the schedule needs them) and the best validation epoch is kept.
        long stepsPerEpoch = ((long)(train.Count * (1 - validationSplit)) + options.BatchSize - 1) / options.BatchSize;
        settings.Optimizer = ConvNetOptimizer.AdamW;
        settings.WeightDecay = 0.05f;
        settings.LearningRate = new CosineDecay(0f, Math.Max(1, (options.Epochs - 1) * stepsPerEpoch), warmupTarget: 2e-3f, warmupSteps: stepsPerEpoch);
        settings.LabelSmoothing = 0.1f;
        settings.EarlyStopping = new EarlyStopping(Patience: options.Epochs, RestoreBestWeights: true);
    }
    var trainer = ml.MulticlassClassification.Trainers.ConvNet(settings);
    var pipeline = preprocessing.Append(trainer).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    var trainClock = Stopwatch.StartNew();
    ITransformer model = pipeline.Fit(trainView);
    var cnn = ((IEnumerable<ITransformer>)model).OfType<ConvNetTransformer>().Single();
    int best = epochs.MinBy(e => e.ValidationLoss ?? e.Loss)!.Epoch;
    Console.WriteLine($"trained in {trainClock.Elapsed.TotalSeconds:F1} s; best epoch {best} (validation accuracy {epochs[best - 1].ValidationAccuracy:F4}), its weights kept");

    // ---- test report
    IDataView scored = model.Transform(testView);
    var metrics = ml.MulticlassClassification.Evaluate(scored);
    Console.WriteLine();
    Console.WriteLine($"test: accuracy {metrics.MicroAccuracy:F4}  log-loss {metrics.LogLoss:F4}  ({test.Count:N0} images)");
    Console.WriteLine();
    ConsoleReport.ClassReport(metrics, cnn.ClassNames);

    // ---- model.zip: the whole pipeline, reloaded and checked
    string zip = Path.Combine(output, "model.zip");
    ml.Model.Save(model, trainView.Schema, zip);
    ITransformer reloaded = new MLContext().Model.LoadConvNet(zip, out _);
    float[] before = scored.GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
    float[] after = reloaded.Transform(testView).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
    bool identical = before.AsSpan().SequenceEqual(after);
    Console.WriteLine();
    Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024.0:F0} KiB); reloaded: {(identical ? "predictions identical" : "PREDICTIONS DIFFER")}");
    if (!identical)
    {
        Console.Error.WriteLine($"error: the model reloaded from {zip} scores the test images differently from the trained one.");
        return 1;
    }

    // ---- model.onnx: the network alone, for ONNX Runtime anywhere; checked here by ONNX Runtime on the test images
    string onnx = Path.Combine(output, "model.onnx");
    cnn.ExportToOnnx(onnx);
    var (onnxDifference, labelsDiffer) = OnnxCheck.CompareWithOnnxRuntime(onnx, scored.GetColumn<float[]>("Features").ToArray(), before, cnn.ClassNames.Count);
    Console.WriteLine($"saved {onnx} ({new FileInfo(onnx).Length / 1024.0:F0} KiB, ONNX opset {MlNetConv.Core.Onnx.OnnxExport.OpsetVersion}); " +
        $"ONNX Runtime on the {test.Count:N0} test images: max |difference| {onnxDifference:0.0e+00}, " +
        (labelsDiffer == 0 ? "predicted labels identical" : $"{labelsDiffer} PREDICTED LABELS DIFFER"));
    if (labelsDiffer != 0 || !(onnxDifference <= 1e-5f))
    {
        Console.Error.WriteLine($"error: ONNX Runtime scores {onnx} differently from MlNetConv.");
        return 1;
    }

    // ---- the course's pictures
    var pictures = new List<string>();
    string Picture(string name) { string path = Path.Combine(output, name); pictures.Add(path); return path; }
    Pictures.Filters(cnn.Network.CopyNetwork().Layers.OfType<Conv2D>().First(), Picture("filters-conv2d.png"));
    Pictures.TrainingCurves(epochs, Picture("training-curves.png"));

    // One ankle boot, as the course shows, through the feature-map transform.
    int boot = Array.IndexOf(test.Labels, FashionMnist.ClassNames.ToList().IndexOf("Ankle boot"));
    var one = new DatasetDataView(test.Slice(boot, 1), FashionMnist.ClassNames);
    Pictures.ImageGrid([test.SamplesToArray(boot, 1)], FashionMnist.ImageShape, ["Ankle boot"], "input", Picture("feature-maps-input.png"), columns: 1, scale: 6);
    foreach (string layer in new[] { "conv2d", "conv2d_1" })
    {
        float[] maps = ml.Transforms.ConvNetFeatureMaps(cnn, layer, "Maps").Fit(one).Transform(one).GetColumn<float[]>("Maps").Single();
        var shape = cnn.Network.GetLayer(layer).OutputShape;
        Pictures.FeatureMaps(maps, shape, $"{layer}: {shape.Channels} feature maps of {shape.Height}×{shape.Width} for an ankle boot", Picture($"feature-maps-{layer}.png"));
    }

    // Misclassified test images: true and predicted class under each.
    string[] predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
    var wrong = Enumerable.Range(0, test.Count).Where(i => predicted[i] != FashionMnist.ClassNames[test.Labels[i]]).Take(24).ToArray();
    Pictures.ImageGrid(wrong.Select(i => test.SamplesToArray(i, 1)).ToList(), FashionMnist.ImageShape,
        wrong.Select(i => $"{FashionMnist.ClassNames[test.Labels[i]]} → {predicted[i]}").ToList(), "misclassified test images: true → predicted",
        Picture("misclassified.png"));

    Console.WriteLine("pictures:");
    foreach (string path in pictures) Console.WriteLine($"  {path}");
    Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:F1} s; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576} MiB");
    return 0;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"error: {ErrorLine(e)}");
    return 1;
}

// One line: the message of a user error as it stands (they name the file or URL), anything else with its type.
static string ErrorLine(Exception e)
{
    // A multi-line message ("Could not download x:" then one line per mirror) becomes "Could not download x: a; b".
    string[] lines = [.. e.Message.Split((char[])['\r', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())];
    string message = lines.Length <= 1 ? e.Message.Trim() : lines[0] + " " + string.Join("; ", lines[1..]);
    bool userError = e is IOException or InvalidDataException or UnauthorizedAccessException or HttpRequestException or NotSupportedException;
    return userError ? message : $"{e.GetType().Name}: {message}";
}

/// <summary>One row of a PNG index: a path relative to the image root and a class name.</summary>
internal sealed class ImageRow
{
    [LoadColumn(0)]
    public string ImagePath { get; set; } = "";

    [LoadColumn(1)]
    public string Label { get; set; } = "";
}
