// The textbook "classify fashion products with a CNN" on Fashion-MNIST, with the engine directly:
// 20% validation split, Adam, batch 32, early stopping (patience 2, restore best), up to 20 epochs.
// Default data: the subset shipped in data/fashion-mnist-subset; --data DIR reads the four standard IDX files.
using System.Diagnostics;
using System.Globalization;
using MlNetConv;
using MlNetConv.Data;
using MlNetConv.Kernels;
using MlNetConv.Training;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = CommandLine.Parse(args);
if (options is null) return 2;

string dataDir = options.DataDir ?? CommandLine.FindShippedSubset();
Console.WriteLine($"data: {Path.GetFullPath(dataDir)}");
var (train, test) = FashionMnist.Load(dataDir);
Console.WriteLine($"data: {train.Count:N0} training and {test.Count:N0} test images, 28×28, scaled to [0, 1]");

var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), options.Seed) { Threads = options.Threads };
Console.WriteLine(model.Summary());
Console.WriteLine($"SIMD: {Simd.Best}, threads: {model.Threads}");

var clock = Stopwatch.StartNew();
var history = model.Fit(train, new FitOptions
{
    Epochs = options.Epochs,
    BatchSize = options.BatchSize,
    ValidationSplit = 0.2,
    EarlyStopping = new EarlyStopping(Patience: 2, RestoreBestWeights: true),
    BatchProgress = new ConsoleProgressBar(),
}, new SynchronousProgress<EpochResult>(e => Console.WriteLine(
    $"\repoch {e.Epoch,2}: loss {e.Loss:F4}  accuracy {e.Accuracy:F4}  val_loss {e.ValidationLoss:F4}  val_accuracy {e.ValidationAccuracy:F4}  " +
    $"{e.Duration.TotalSeconds,5:F1} s  {e.SamplesPerSecond,6:F0} img/s")));
Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s; best epoch {history.BestEpoch}" +
    (history.StoppedEarly ? ", stopped early" : "") + (history.RestoredBestWeights ? ", best weights restored" : ""));

var result = model.Evaluate(test);
Console.WriteLine($"test: loss {result.Loss:F4}  accuracy {result.Accuracy:F4}  ({result.Count:N0} images)");
string modelPath = Path.GetFullPath(options.Output);
model.Save(modelPath);
Console.WriteLine($"saved: {modelPath}");
return 0;

/// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>One line per epoch, redrawn in place: batches done, running loss and accuracy, images/s, time left.</summary>
internal sealed class ConsoleProgressBar : IProgress<BatchProgress>
{
    private long lastDraw;

    public void Report(BatchProgress p)
    {
        long now = Environment.TickCount64;
        if (p.Batch != p.BatchCount && now - lastDraw < 200) return;
        lastDraw = now;
        double rate = p.SamplesSeen / Math.Max(p.Elapsed.TotalSeconds, 1e-9);
        double eta = (p.BatchCount - p.Batch) * (p.Elapsed.TotalSeconds / p.Batch);
        int filled = 30 * p.Batch / p.BatchCount;
        string line = $"epoch {p.Epoch,2} [{new string('=', filled)}{new string(' ', 30 - filled)}] {p.Batch}/{p.BatchCount}  " +
            $"loss {p.Loss:F4}  accuracy {p.Accuracy:F4}  {rate:F0} img/s  ETA {eta:F0} s";
        if (Console.IsOutputRedirected) { if (p.Batch == p.BatchCount) Console.WriteLine(line); }
        else Console.Write("\r" + line);
    }
}

internal sealed record CommandLine(string? DataDir, int Epochs, int BatchSize, int Seed, int Threads, string Output)
{
    public static CommandLine? Parse(string[] args)
    {
        var o = new CommandLine(null, 20, 32, 42, Environment.ProcessorCount, "fashion-mnist-cnn.mlnc");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                o = args[i] switch
                {
                    "--data" => o with { DataDir = Next() },
                    "--epochs" => o with { Epochs = int.Parse(Next()) },
                    "--batch" => o with { BatchSize = int.Parse(Next()) },
                    "--seed" => o with { Seed = int.Parse(Next()) },
                    "--threads" => o with { Threads = int.Parse(Next()) },
                    "--output" => o with { Output = Next() },
                    "-h" or "--help" => null,
                    _ => throw new ArgumentException($"Unknown option {args[i]}."),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                o = null;
            }
            if (o is null) break;
        }
        if (o is null)
            Console.Error.WriteLine("usage: FashionMnist [--data DIR] [--epochs N=20] [--batch N=32] [--seed N=42] [--threads N] [--output FILE]");
        return o;
    }

    public static string FindShippedSubset()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data", "fashion-mnist-subset");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("The shipped subset data/fashion-mnist-subset was not found above " + AppContext.BaseDirectory + "; pass --data DIR.");
    }
}
