using System.Globalization;

namespace FashionMnistExample;

/// <summary>The example's options; see <see cref="Usage"/>.</summary>
internal sealed record CommandLine(string? DataDir, bool Download, string CacheDir, bool FromPng, int Epochs, int BatchSize, int Seed,
    int Threads, string OutputDir)
{
    public const string Usage =
        "usage: FashionMnist [--data DIR | --download [--cache DIR]] [--from-png] [--epochs N=20] [--batch N=32] [--seed N=42] [--threads N] [--output DIR]\n" +
        "  default data: the subset shipped in data/fashion-mnist-subset (10,000 training, 2,000 test images)\n" +
        "  --data DIR     the four standard IDX files of the full set (e.g. Keras's ~/.keras/datasets/fashion-mnist)\n" +
        "  --download     fetch them from the official mirrors into --cache (default ~/.cache/mlnetconv/fashion-mnist), checksums verified\n" +
        "  --from-png     export the images to PNG class folders and train from the files (LoadImages → ConvertToGrayscale → ResizeImages → ExtractPixels)\n" +
        "  --output DIR   where model.zip and the pictures go (default fashion-mnist-output)";

    public static CommandLine? Parse(string[] args)
    {
        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mlnetconv", "fashion-mnist");
        var o = new CommandLine(null, false, cache, false, 20, 32, 42, Environment.ProcessorCount, "fashion-mnist-output");
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                int Number() => int.Parse(Next(), CultureInfo.InvariantCulture) is var n and > 0 ? n : throw new ArgumentException($"{args[i]} needs a positive number.");
                o = args[i] switch
                {
                    "--data" => o with { DataDir = Next() },
                    "--download" => o with { Download = true },
                    "--cache" => o with { CacheDir = Next() },
                    "--from-png" => o with { FromPng = true },
                    "--epochs" => o with { Epochs = Number() },
                    "--batch" => o with { BatchSize = Number() },
                    "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = Number() },
                    "--output" => o with { OutputDir = Next() },
                    "-h" or "--help" => throw new ArgumentException(""),
                    _ => throw new ArgumentException($"Unknown option {args[i]}."),
                };
            }
            if (o.Download && o.DataDir is not null) throw new ArgumentException("Give --data or --download, not both.");
            return o;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            if (e.Message.Length > 0) Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return null;
        }
    }

    /// <summary>data/fashion-mnist-subset, found above the program's folder (it runs from bin/ inside the repository).</summary>
    public static string ShippedSubset()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data", "fashion-mnist-subset");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"The shipped subset data/fashion-mnist-subset was not found above {AppContext.BaseDirectory}; pass --data DIR.");
    }
}
