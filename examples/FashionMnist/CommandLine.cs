using System.Globalization;

namespace FashionMnistExample;

/// <summary>The example's options; see <see cref="Usage"/>.</summary>
internal sealed record CommandLine(string? DataDir, bool Download, string CacheDir, bool FromPng, int? EpochsGiven, int BatchSize, int Seed,
    int Threads, string OutputDir)
{
    /// <summary>--architecture: textbook (the default, the Keras textbook CNN and its set-up) or modern.</summary>
    public bool Modern { get; init; }

    /// <summary>Epochs at most (default 20): the textbook stops early; the modern CNN runs them all, its cosine schedule spanning them.</summary>
    public int Epochs => EpochsGiven ?? 20;

    /// <summary>--help: print <see cref="Usage"/> and exit 0.</summary>
    public bool Help { get; init; }

    /// <summary>--mirror URL (repeatable): where --download fetches from instead of the official mirrors.</summary>
    public IReadOnlyList<Uri>? Mirrors { get; init; }

    public const string Usage =
        "usage: FashionMnist [--data DIR | --download [--cache DIR] [--mirror URL]] [--from-png] [--architecture textbook|modern] [--epochs N] [--batch N=32] [--seed N=42] [--threads N] [--output DIR]\n" +
        "  default data: the subset shipped in data/fashion-mnist-subset (10,000 training, 2,000 test images)\n" +
        "  --data DIR     the four standard IDX files of the full set (e.g. Keras's ~/.keras/datasets/fashion-mnist)\n" +
        "  --download     fetch them from the official mirrors into --cache (default ~/.cache/mlnetconv/fashion-mnist), checksums verified\n" +
        "  --mirror URL   with --download: fetch from this mirror instead (repeat for several, tried in order)\n" +
        "  --from-png     export the images to PNG class folders and train from the files (LoadImages → ConvertToGrayscale → ResizeImages → ExtractPixels)\n" +
        "  --architecture textbook (default: the Keras textbook CNN, Adam, 20% validation, early stopping, up to 20 epochs) or modern\n" +
        "                 (flips, BatchNormalization; AdamW, cosine schedule with warm-up, label smoothing, 10% validation, all 20 epochs)\n" +
        "  --output DIR   where model.zip and the pictures go (default fashion-mnist-output)";

    /// <summary>
    /// The options, or null after printing one line "error: …" to stderr (the caller exits with 2). --help sets
    /// <see cref="Help"/>.
    /// </summary>
    public static CommandLine? Parse(string[] args)
    {
        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mlnetconv", "fashion-mnist");
        var o = new CommandLine(null, false, cache, false, null, 32, 42, Environment.ProcessorCount, "fashion-mnist-output");
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                int Whole()
                {
                    string option = args[i], value = Next();
                    return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
                        ? n : throw new ArgumentException($"{option} needs a whole number; got '{value}'.");
                }
                int Number()
                {
                    string option = args[i];
                    int n = Whole();
                    return n > 0 ? n : throw new ArgumentException($"{option} needs a positive number; got {n}.");
                }
                Uri Url()
                {
                    string option = args[i], value = Next();
                    return Uri.TryCreate(value.EndsWith('/') ? value : value + "/", UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                        ? url : throw new ArgumentException($"{option} needs an http(s) URL; got '{value}'.");
                }
                o = args[i] switch
                {
                    "--data" => o with { DataDir = Next() },
                    "--download" => o with { Download = true },
                    "--cache" => o with { CacheDir = Next() },
                    "--from-png" => o with { FromPng = true },
                    "--epochs" => o with { EpochsGiven = Number() },
                    "--architecture" => o with
                    {
                        Modern = Next() switch
                        {
                            "textbook" => false,
                            "modern" => true,
                            var other => throw new ArgumentException($"--architecture is textbook or modern; got '{other}'."),
                        },
                    },
                    "--batch" => o with { BatchSize = Number() },
                    "--seed" => o with { Seed = Whole() },
                    "--mirror" => o with { Mirrors = [.. o.Mirrors ?? [], Url()] },
                    "--threads" => o with { Threads = Number() },
                    "--output" => o with { OutputDir = Next() },
                    "-h" or "--help" => o with { Help = true },
                    _ => throw new ArgumentException($"Unknown option {args[i]}."),
                };
            }
            if (o.Download && o.DataDir is not null) throw new ArgumentException("Give --data or --download, not both.");
            if (o.Mirrors is not null && !o.Download) throw new ArgumentException("--mirror goes with --download.");
            return o;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message} (FashionMnist --help lists the options)");
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
