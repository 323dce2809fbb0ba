using MlNetConv.Core;
using System.Diagnostics;
using System.Globalization;
using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Training;

namespace MlNetConv.Benchmarks;

/// <summary>
/// Training images/s (batch 32) and inference images/s (batch 1, 32, 256) of the textbook model, or with
/// <c>--model modern</c> of the modern preset with its recipe, on Fashion-MNIST, optionally beside the TorchSharp peer
/// of the same model (../shared/peers/torchsharp/run.sh, benchmarks/peers/torchsharp-modern/run.sh) run in the same
/// sitting, and the ML.NET scoring paths' images/s.
/// </summary>
internal static class EndToEnd
{
    public const string Training = "training img/s, batch 32";
    public const string Inference256 = "inference img/s, batch 256";
    public const string Inference32 = "inference img/s, batch 32";
    public const string Inference1 = "inference img/s, batch 1";
    public const string PeakWorkingSet = "peak working set MiB";

    public static int Run(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string? data = null, peer = null;
        bool modern = false;
        int trainLimit = 12_000, epochs = 3, threads = Environment.ProcessorCount;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--data": data = Next(); break;
                case "--peer": peer = Next(); break;
                case "--train-limit": trainLimit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--model":
                    modern = Next() switch
                    {
                        "textbook" => false,
                        "modern" => true,
                        var other => throw new ArgumentException($"--model is textbook or modern; got '{other}'."),
                    };
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}\nusage: e2e [--data DIR] [--model textbook|modern] [--train-limit N=12000] [--epochs N=3] [--threads N] " +
                        "[--peer ../shared/peers/torchsharp/run.sh | benchmarks/peers/torchsharp-modern/run.sh]");
                    return 2;
            }
        }
        data ??= FindData();
        var (train, test) = FashionMnist.Load(data);
        if (trainLimit < train.Count) train = train.Slice(0, trainLimit);
        Console.WriteLine($"CPU: {Machine.Processor()}, {Environment.ProcessorCount} processors; SIMD {Simd.Best}; threads {threads}");
        Console.WriteLine($"data: {data}: train {train.Count}, test {test.Count}");

        // The modern preset with the FashionMnist example's recipe (all data trained on here, none held out): AdamW with weight
        // decay 0.05, one epoch of linear warm-up to 2e-3 then a cosine to zero, label smoothing 0.1. The textbook: Adam.
        Layer[] Layers() => modern ? Architectures.ModernCnn() : Architectures.TextbookCnn();
        long steps = (train.Count + 31) / 32; // batches of 32 per epoch
        Optimizer NewOptimizer() => modern
            ? new AdamW(new CosineDecay(0f, Math.Max(1, (epochs - 1) * steps), warmupTarget: 2e-3f, warmupSteps: steps), weightDecay: 0.05f)
            : new Adam();
        Console.WriteLine($"model: {(modern ? "modern (flips, BatchNormalization; AdamW, warm-up and cosine, label smoothing 0.1)" : "textbook (Adam)")}; batch 32, {epochs} epochs");

        var model = new Sequential(FashionMnist.ImageShape, Layers(), seed: 42) { Threads = threads };
        var epochRates = new List<double>();
        Optimizer optimizer = NewOptimizer();
        model.Fit(train, new FitOptions { Epochs = epochs, Optimizer = optimizer, LabelSmoothing = modern ? 0.1f : 0 }, new Inline<EpochResult>(e =>
        {
            epochRates.Add(e.SamplesPerSecond);
            Console.WriteLine($"epoch {e.Epoch}: {e.SamplesPerSecond:F0} img/s train, loss {e.Loss:F4}");
        }));
        double trainRate = Median(epochRates.Skip(epochRates.Count > 1 ? 1 : 0)); // epoch 1 includes JIT warm-up
        double accuracy = model.Evaluate(test).Accuracy;
        // The trained model, its optimizer's state and all: a fresh one hid what only long training meets (the Adam
        // moments of dead units decaying into subnormals, slow on x86, until they were flushed).
        PrintProfile(model.ProfileTraining(train, batches: 100, optimizer: optimizer));

        double Infer(int batch, int images)
        {
            float[] x = test.SamplesToArray(0, images);
            var output = new float[images * 10];
            model.Predict(x.AsSpan(0, Math.Min(images, batch) * 784), output, batch); // warm-up
            var rates = new List<double>();
            for (int round = 0; round < 3; round++)
            {
                var clock = Stopwatch.StartNew();
                if (batch == 1)
                    for (int i = 0; i < images; i++) model.Predict(x.AsSpan(i * 784, 784), output.AsSpan(i * 10, 10), 1);
                else
                    model.Predict(x, output, batch);
                rates.Add(images / clock.Elapsed.TotalSeconds);
            }
            return Median(rates);
        }
        double infer256 = Infer(256, test.Count), infer32 = Infer(32, test.Count), infer1 = Infer(1, 2000);
        // The engine's peak, as the peer's is its own: ML.NET's assemblies and second model come after.
        long peakMiB = Process.GetCurrentProcess().PeakWorkingSet64 >> 20;
        var (mlTransform, mlEngine) = MlNetScoring.Measure(train, test, threads, Layers());

        Console.WriteLine();
        Console.WriteLine($"test accuracy after {epochs} epochs on {train.Count} images: {accuracy:F4}");
        var rows = new List<(string Figure, double Ours, double? Peer)>
        {
            (Training, trainRate, null),
            (Inference256, infer256, null),
            (Inference32, infer32, null),
            (Inference1, infer1, null),
            ("ML.NET Transform img/s", mlTransform, null),
            ("ML.NET PredictionEngine img/s", mlEngine, null),
            (PeakWorkingSet, peakMiB, null),
        };
        if (peer is not null)
        {
            var theirs = Peer.Measure(peer, data, trainLimit, epochs, threads);
            rows = rows.Select(row => row with { Peer = theirs.GetValueOrDefault(row.Figure) }).ToList();
        }
        Console.WriteLine($"{"figure",-30} {"MlNetConv",12} {"TorchSharp",12} {"ratio",8}");
        foreach (var (figure, ours, theirs) in rows)
            Console.WriteLine($"{figure,-30} {ours,12:F0} {(theirs is { } t ? t.ToString("F0") : "-"),12} " +
                $"{(theirs is { } p && p > 0 ? (ours / p).ToString("F2") + "×" : "-"),8}");
        return 0;
    }

    // Where a training batch's time goes, per layer and pass: the table to attack the biggest share from.
    private static void PrintProfile(TrainingProfile profile)
    {
        double total = profile.Total.TotalMilliseconds;
        Console.WriteLine($"\nper training batch of {profile.BatchSize} (mean of {profile.Batches} batches), ms and share of {total:F2} ms:");
        Console.WriteLine($"{"layer",-28} {"forward",9} {"backward",9} {"share",7}");
        foreach (var l in profile.Layers)
            Console.WriteLine($"{$"{l.Name} ({l.TypeName})",-28} {l.Forward.TotalMilliseconds,9:F3} {l.Backward.TotalMilliseconds,9:F3} {(l.Forward + l.Backward).TotalMilliseconds / total,7:P1}");
        Console.WriteLine($"{"loss",-28} {profile.Loss.TotalMilliseconds,9:F3} {"",9} {profile.Loss.TotalMilliseconds / total,7:P1}");
        Console.WriteLine($"{"optimizer update",-28} {profile.Update.TotalMilliseconds,9:F3} {"",9} {profile.Update.TotalMilliseconds / total,7:P1}");
        Console.WriteLine();
    }

    internal static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string FindData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(dir.FullName, "shared", "data", "fashion-mnist"), Path.Combine(dir.FullName, "data", "fashion-mnist-subset") })
                if (File.Exists(Path.Combine(candidate, FashionMnist.TrainFiles.Images))) return candidate;
        }
        throw new DirectoryNotFoundException("No Fashion-MNIST found (../shared/data/fashion-mnist or data/fashion-mnist-subset); pass --data DIR.");
    }

    private sealed class Inline<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
