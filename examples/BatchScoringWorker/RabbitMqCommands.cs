using System.Diagnostics;
using MlNetConv.Hosting;

namespace BatchScoringWorker;

/// <summary>The producer's commands: enqueue a folder of images, or collect results into a folder, one file per key.</summary>
internal sealed record RabbitMqCommands(string Verb, string Folder, bool References, TimeSpan Idle)
{
    /// <summary>The command in <paramref name="args"/>, or null to run the worker; bad arguments throw ArgumentException("args").</summary>
    public static RabbitMqCommands? Parse(string[] args)
    {
        int enqueue = Array.IndexOf(args, "--enqueue"), results = Array.IndexOf(args, "--results");
        if (enqueue < 0 && results < 0) return null;
        if (enqueue >= 0 && results >= 0) throw new ArgumentException("--enqueue and --results are two commands; give one.", nameof(args));
        int at = Math.Max(enqueue, results);
        if (at + 1 >= args.Length || args[at + 1].StartsWith("--", StringComparison.Ordinal))
            throw new ArgumentException($"{args[at]} needs a folder.", nameof(args));
        TimeSpan idle = TimeSpan.FromSeconds(5);
        int idleAt = Array.IndexOf(args, "--idle");
        if (idleAt >= 0 && (idleAt + 1 >= args.Length || !double.TryParse(args[idleAt + 1], System.Globalization.CultureInfo.InvariantCulture, out double seconds) || seconds <= 0))
            throw new ArgumentException("--idle needs a positive number of seconds.", nameof(args));
        else if (idleAt >= 0) idle = TimeSpan.FromSeconds(double.Parse(args[idleAt + 1], System.Globalization.CultureInfo.InvariantCulture));
        return new RabbitMqCommands(enqueue >= 0 ? "enqueue" : "results", args[at + 1], args.Contains("--references"), idle);
    }

    public async Task<int> RunAsync(IConfiguration scoring)
    {
        var settings = new ImageScoringOptions();
        scoring.Bind(settings);
        await using var client = await RabbitMqScoringClient.ConnectAsync(settings.RabbitMq);
        var clock = Stopwatch.StartNew();
        if (Verb == "enqueue")
        {
            int count = await client.EnqueueFolderAsync(Folder, settings.FilePatterns, References);
            Console.WriteLine($"enqueued {count} images from {Path.GetFullPath(Folder)} to {settings.RabbitMq.RequestQueue}" +
                $"{(References ? " as references" : "")} in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        }

        // At least once: a result delivered again has the key of one already written, and is dropped.
        Directory.CreateDirectory(Folder);
        int written = 0, failures = 0, duplicates = 0;
        await foreach (ScoringResult result in client.ReadResultsAsync(Idle))
        {
            string path = Path.Combine(Folder, FileName($"{result.RequestId}.{result.ModelId}") + ".json"); // one file per key
            if (File.Exists(path))
            {
                duplicates++;
                continue;
            }
            string temporary = Path.Combine(Folder, $".{Path.GetFileName(path)}.tmp");
            await File.WriteAllBytesAsync(temporary, result.ToJson());
            File.Move(temporary, path);
            written++;
            if (!result.Succeeded) failures++;
        }
        Console.WriteLine($"wrote {written} results ({failures} failures) to {Path.GetFullPath(Folder)}; dropped {duplicates} duplicates; " +
            $"none came for {Idle.TotalSeconds:F0} s");
        return 0;
    }

    // Request ids are the producer's: any character a file name cannot hold becomes '_'.
    private static string FileName(string key) =>
        string.Concat(key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_'));
}
