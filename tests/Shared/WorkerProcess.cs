using System.Diagnostics;

namespace MlNetConv.Tests.Shared;

/// <summary>The worker example (examples/BatchScoringWorker, built beside the caller) as a child process.</summary>
internal static class WorkerProcess
{
    /// <summary>Starts it with <paramref name="args"/>, its output and errors redirected for the caller to read.</summary>
    public static Process Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "BatchScoringWorker.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>Settings as command-line arguments: <c>--Key=value</c>.</summary>
    public static IEnumerable<string> Arguments(IEnumerable<KeyValuePair<string, string?>> settings) =>
        settings.Select(s => $"--{s.Key}={s.Value}");
}
