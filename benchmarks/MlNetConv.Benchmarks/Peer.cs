using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MlNetConv.Benchmarks;

/// <summary>Runs the TorchSharp peer script with the same data, data size, epochs and threads, and reads its figures.</summary>
internal static partial class Peer
{
    /// <summary>The peer's figures, by the names of <see cref="EndToEnd"/>'s rows (those it has).</summary>
    public static Dictionary<string, double?> Measure(string script, string data, int trainLimit, int epochs, int threads)
    {
        data = Path.GetFullPath(data);
        Console.WriteLine($"\nrunning the peer: {script} --data {data} --train-limit {trainLimit} --epochs {epochs} --threads {threads}");
        var start = new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "--data", data, "--train-limit", trainLimit.ToString(CultureInfo.InvariantCulture), "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
                     "--threads", threads.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {script}.");
        _ = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"The peer exited with code {process.ExitCode}:\n{output}");

        // Per-epoch rows: "epoch | train loss | train acc | test loss | test acc | train wall s | train img/s | ...".
        var trainRates = output.Split('\n').Where(line => EpochRow().IsMatch(line))
            .Select(line => double.Parse(line.Split('|')[6], CultureInfo.InvariantCulture)).ToList();
        double? Inference(int batch) => InferenceRate().Matches(output)
            .Where(m => m.Groups[1].Value == batch.ToString(CultureInfo.InvariantCulture))
            .Select(m => (double?)double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)).FirstOrDefault();
        double? peak = PeakWorkingSet().Match(output) is { Success: true } p ? double.Parse(p.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        double? train = trainRates.Count == 0 ? null : EndToEnd.Median(trainRates.Skip(trainRates.Count > 1 ? 1 : 0));
        return new Dictionary<string, double?>
        {
            [EndToEnd.Training] = train,
            [EndToEnd.Inference256] = Inference(256),
            [EndToEnd.Inference32] = Inference(32),
            [EndToEnd.Inference1] = Inference(1),
            [EndToEnd.PeakWorkingSet] = peak,
        };
    }

    [GeneratedRegex(@"^\s*\d+\s*\|")]
    private static partial Regex EpochRow();

    [GeneratedRegex(@"inference batch (\d+)[^:]*:.*?=\s*([\d.]+)\s*img/s")]
    private static partial Regex InferenceRate();

    [GeneratedRegex(@"peak working set:\s*([\d.]+)\s*MiB")]
    private static partial Regex PeakWorkingSet();
}
