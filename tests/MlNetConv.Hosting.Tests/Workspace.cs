using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MlNetConv.Hosting.Tests;

/// <summary>An inbox, an outbox and a model path of one test, and the helpers to run workers on them.</summary>
public sealed class Workspace : IDisposable
{
    public Workspace(string model)
    {
        Root = Directory.CreateTempSubdirectory("mlnetconv-worker").FullName;
        Inbox = Directory.CreateDirectory(Path.Combine(Root, "inbox")).FullName;
        Outbox = Path.Combine(Root, "outbox");
        ModelPath = Path.Combine(Root, "model.zip");
        File.Copy(model, ModelPath);
    }

    public string Root { get; }

    public string Inbox { get; }

    public string Outbox { get; }

    public string ModelPath { get; }

    public Dictionary<string, string?> Settings(int batchSize = 16) => new()
    {
        ["ImageScoring:ModelPath"] = ModelPath,
        ["ImageScoring:Inbox"] = Inbox,
        ["ImageScoring:Outbox"] = Outbox,
        ["ImageScoring:BatchSize"] = batchSize.ToString(),
        ["ImageScoring:PollInterval"] = "00:00:00.200",
        ["ImageScoring:MaxDegreeOfParallelism"] = "2",
    };

    /// <summary>A real host with the worker, configured from <paramref name="settings"/>, not yet started; its log goes to <paramref name="log"/> if given.</summary>
    public static IHost CreateHost(Dictionary<string, string?> settings, LogCollector? log = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        if (log is null) builder.Logging.AddFilter(_ => false);
        else builder.Logging.AddProvider(log);
        builder.Services.AddImageBatchScoring(builder.Configuration.GetSection("ImageScoring"));
        return builder.Build();
    }

    /// <summary>Starts a worker host, runs <paramref name="afterStart"/> (e.g. dropping files), waits for <paramref name="until"/>, and stops it.</summary>
    public static async Task RunHostUntil(Dictionary<string, string?> settings, Func<bool> until, string what, Action? afterStart = null)
    {
        using var host = CreateHost(settings);
        await host.StartAsync();
        afterStart?.Invoke();
        WaitUntil(until, what);
        await host.StopAsync();
    }

    /// <summary><paramref name="times"/> copies of each of <paramref name="files"/> under names of their own, outside the inbox; returns their paths.</summary>
    public string[] Copies(IReadOnlyList<string> files, int times)
    {
        string folder = Directory.CreateDirectory(Path.Combine(Root, "copies")).FullName;
        var copies = new List<string>();
        for (int copy = 0; copy < times; copy++)
            foreach (string file in files)
            {
                string path = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(file)}-{copy}{Path.GetExtension(file)}");
                File.Copy(file, path);
                copies.Add(path);
            }
        return [.. copies];
    }

    /// <summary>Drops files into the inbox the safe way: copied beside it, then renamed in, so no half file is ever seen.</summary>
    public void Drop(IEnumerable<string> files)
    {
        string staging = Directory.CreateDirectory(Path.Combine(Root, "staging")).FullName;
        foreach (string file in files)
        {
            string temporary = Path.Combine(staging, Path.GetFileName(file));
            File.Copy(file, temporary, overwrite: true);
            File.Move(temporary, Path.Combine(Inbox, Path.GetFileName(file)));
        }
    }

    /// <summary>
    /// Leaves what a worker killed mid-batch leaves: a claim folder of a process that is gone (its lock free) holding a
    /// batch of <paramref name="files"/>, and the hidden temporary result file and failure reason it was writing.
    /// Returns the dead worker's id.
    /// </summary>
    public string LeaveDeadWorker(IEnumerable<string> files)
    {
        string workerId = $"deadhost-999999-{Guid.NewGuid().ToString("N")[..8]}";
        string batchId = $"20260101T000000000-{workerId}-abcdef";
        Directory.CreateDirectory(Path.Combine(Outbox, "failed"));
        File.WriteAllText(Path.Combine(Outbox, $".results-{batchId}.jsonl.tmp"), "{\"file\":\"half a li");
        File.WriteAllText(Path.Combine(Outbox, "failed", $".bad.png.reason.txt.{workerId}.tmp"), "");
        // Made beside the inbox and moved in whole, so a running worker never sees it half made.
        string staged = Path.Combine(Root, "staging-claims", workerId);
        string batch = Directory.CreateDirectory(Path.Combine(staged, batchId)).FullName;
        File.WriteAllBytes(Path.Combine(staged, "owner.lock"), []);
        foreach (string file in files) File.Copy(file, Path.Combine(batch, Path.GetFileName(file)));
        Directory.CreateDirectory(Path.Combine(Inbox, ".claims"));
        Directory.Move(staged, Path.Combine(Inbox, ".claims", workerId));
        return workerId;
    }

    /// <summary>Hidden files left in the outbox or failed/ (temporaries of interrupted writes).</summary>
    public string[] HiddenFiles() =>
        [.. new[] { Outbox, Path.Combine(Outbox, "failed") }.Where(Directory.Exists)
            .SelectMany(d => Directory.GetFiles(d, ".*")).Where(f => !Path.GetFileName(f).StartsWith(".write-probe", StringComparison.Ordinal))];

    public void DropBytes(string name, byte[] bytes)
    {
        string staging = Directory.CreateDirectory(Path.Combine(Root, "staging")).FullName;
        File.WriteAllBytes(Path.Combine(staging, name), bytes);
        File.Move(Path.Combine(staging, name), Path.Combine(Inbox, name));
    }

    /// <summary>Every line of every committed result file.</summary>
    public List<(string File, string Predicted, string ModelId)> Results()
    {
        if (!Directory.Exists(Outbox)) return [];
        return Directory.GetFiles(Outbox, "results-*.jsonl")
            .SelectMany(File.ReadLines)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(e => (e.GetProperty("file").GetString()!, e.GetProperty("predicted_label").GetString()!, e.GetProperty("model_id").GetString()!))
            .ToList();
    }

    public int Done => Directory.Exists(Path.Combine(Outbox, "done")) ? Directory.GetFiles(Path.Combine(Outbox, "done")).Length : 0;

    public int Failed => Directory.Exists(Path.Combine(Outbox, "failed")) ? Directory.GetFiles(Path.Combine(Outbox, "failed"), "*.reason.txt").Length : 0;

    /// <summary>Files still waiting or claimed.</summary>
    public int Pending => Directory.GetFiles(Inbox, "*", SearchOption.AllDirectories).Count(f => !f.EndsWith("owner.lock", StringComparison.Ordinal));

    public static void WaitUntil(Func<bool> condition, string what, int seconds = 60)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds) Assert.Fail($"Timed out after {seconds} s waiting for {what}.");
            Thread.Sleep(50);
        }
    }

    /// <summary>Each dropped file appears in exactly one result line, sits in done/, and nothing is left claimed.</summary>
    public void AssertEachScoredOnce(IEnumerable<string> dropped)
    {
        var results = Results();
        var names = dropped.Select(Path.GetFileName).Order().ToArray();
        var duplicates = results.GroupBy(r => r.File).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(duplicates.Length == 0, $"scored more than once: {string.Join(", ", duplicates.Take(5))}");
        Assert.Equal(names, results.Select(r => r.File).Order().ToArray());
        Assert.Equal(names.Length, Done);
        Assert.Equal(0, Pending);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Collects a host's log messages, to check what the worker says.</summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> messages = new();

    public IReadOnlyList<string> Messages => [.. messages];

    public ILogger CreateLogger(string categoryName) => new Collector(messages);

    public void Dispose()
    {
    }

    private sealed class Collector(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            messages.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
