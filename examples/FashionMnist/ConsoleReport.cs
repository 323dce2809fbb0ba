using System.Globalization;
using Microsoft.ML.Data;
using MlNetConv.Core.Training;

namespace FashionMnistExample;

/// <summary>Everything the example prints: the live progress bar, the per-epoch table, and the test report.</summary>
internal static class ConsoleReport
{
    public static void EpochHeader() =>
        Console.WriteLine($"{"epoch",5} {"loss",8} {"accuracy",9} {"val_loss",9} {"val_acc",8} {"seconds",8} {"images/s",9} {"lr",9}");

    public static string EpochLine(EpochResult e) => string.Create(CultureInfo.InvariantCulture,
        $"{e.Epoch,5} {e.Loss,8:F4} {e.Accuracy,9:F4} {e.ValidationLoss,9:F4} {e.ValidationAccuracy,8:F4} {e.Duration.TotalSeconds,8:F1} {e.SamplesPerSecond,9:F0} {e.LearningRate,9:G3}");

    /// <summary>Per-class precision, recall and F1 from the confusion matrix, then the matrix itself.</summary>
    public static void ClassReport(MulticlassClassificationMetrics metrics, IReadOnlyList<string> classNames)
    {
        var matrix = metrics.ConfusionMatrix;
        Console.WriteLine($"{"class",-12} {"precision",9} {"recall",7} {"f1",6} {"support",8}");
        for (int c = 0; c < classNames.Count; c++)
        {
            double p = matrix.PerClassPrecision[c], r = matrix.PerClassRecall[c];
            double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{classNames[c],-12} {p,9:F3} {r,7:F3} {f1,6:F3} {matrix.Counts[c].Sum(),8:F0}"));
        }
        Console.WriteLine();
        Console.WriteLine("confusion matrix (rows: true class, columns: predicted)");
        Console.Write($"{"",12}");
        for (int c = 0; c < classNames.Count; c++) Console.Write($" {Abbreviate(classNames[c]),6}");
        Console.WriteLine();
        for (int r = 0; r < classNames.Count; r++)
        {
            Console.Write($"{classNames[r],-12}");
            for (int c = 0; c < classNames.Count; c++) Console.Write($" {matrix.Counts[r][c],6:F0}");
            Console.WriteLine();
        }
    }

    private static string Abbreviate(string name) => name.Length <= 6 ? name : name[..6];
}

/// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>One line per epoch, redrawn in place: batches done, running loss and accuracy, images/s, time left.</summary>
internal sealed class ProgressBar : IProgress<BatchProgress>
{
    private long lastDraw;

    public void Report(BatchProgress p)
    {
        bool last = p.Batch == p.BatchCount;
        long now = Environment.TickCount64;
        if (!last && now - lastDraw < 250) return;
        lastDraw = now;
        if (Console.IsOutputRedirected && !last) return;
        double rate = p.SamplesSeen / Math.Max(p.Elapsed.TotalSeconds, 1e-9);
        double eta = (p.BatchCount - p.Batch) * (p.Elapsed.TotalSeconds / p.Batch);
        int filled = 30 * p.Batch / p.BatchCount;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch,2} [{new string('=', filled)}{new string(' ', 30 - filled)}] {p.Batch}/{p.BatchCount}  loss {p.Loss:F4}  accuracy {p.Accuracy:F4}  {rate:F0} img/s  ETA {eta:F0} s");
        // The bar is erased before the epoch's table line is printed.
        Console.Write(Console.IsOutputRedirected ? "" : "\r" + line + (last ? "\r" + new string(' ', line.Length) + "\r" : ""));
    }
}
