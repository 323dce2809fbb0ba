using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.Data;

namespace MlNetConv.Hosting;

/// <summary>
/// Scores images arriving in the inbox with the model zip, a batch at a time, losing nothing and scoring nothing twice
/// (see <see cref="ClaimStore"/>). File-system events wake it early; a periodic scan catches whatever events miss.
/// A replaced model zip is picked up between batches. On shutdown the batch in flight finishes; nothing stays claimed.
/// </summary>
internal sealed class ImageScoringService(IOptions<ImageScoringOptions> optionsAccessor, ScoringMetrics metrics, ILogger<ImageScoringService> logger)
    : BackgroundService
{
    private readonly ImageScoringOptions options = optionsAccessor.Value;
    private readonly SemaphoreSlim arrivals = new(0);
    private ScoringModel? model;
    private ClaimStore? claims;
    private FileSystemWatcher? watcher;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // A bad model zip stops the host before it starts: the process exits non-zero with the reason logged.
        model = ScoringModel.Load(options.ModelPath, options.MaxDegreeOfParallelism);
        claims = new ClaimStore(options);
        int recovered = claims.RecoverAbandoned();
        logger.LogInformation("Scoring {Inbox} with model {ModelId} ({ModelPath}) as worker {Worker}; {Recovered} files recovered from stopped workers",
            options.Inbox, model.Id, options.ModelPath, claims.WorkerId, recovered);
        watcher = new FileSystemWatcher(options.Inbox) { IncludeSubdirectories = false, EnableRaisingEvents = true };
        watcher.Created += (_, _) => Wake();
        watcher.Renamed += (_, _) => Wake();
        await base.StartAsync(cancellationToken);
    }

    private void Wake()
    {
        if (arrivals.CurrentCount == 0) arrivals.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            int scored = 0;
            try
            {
                ReloadModelIfReplaced();
                scored = ScoreOneBatch();
                if (scored == 0) claims!.RecoverAbandoned();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogError(e, "A file operation failed; retrying after the poll interval");
            }
            if (scored == 0)
            {
                try { await arrivals.WaitAsync(options.PollInterval, stoppingToken); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    private void ReloadModelIfReplaced()
    {
        if (!model!.IsStale()) return;
        try
        {
            var replacement = ScoringModel.Load(options.ModelPath, options.MaxDegreeOfParallelism);
            logger.LogInformation("Model replaced: {OldId} → {NewId}", model.Id, replacement.Id);
            model = replacement;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Possibly still being copied in; the old model keeps scoring and the next batch tries again.
            logger.LogWarning("The model zip changed but does not load yet ({Reason}); still scoring with {ModelId}", e.Message, model.Id);
        }
    }

    // Claims, checks, scores and commits one batch; returns how many files it took.
    private int ScoreOneBatch()
    {
        var (batchId, files) = claims!.Claim(options.BatchSize);
        if (files.Count == 0) return 0;
        var clock = Stopwatch.StartNew();
        string batchFolder = Path.GetDirectoryName(files[0].Claimed)!;

        // One bad file never fails its batch: each is decoded first, and the unreadable ones go to failed/.
        var readable = new List<(string Original, string Claimed)>();
        var reasons = new string?[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism },
            i => reasons[i] = Unreadable(files[i].Claimed));
        int failed = 0;
        for (int i = 0; i < files.Count; i++)
        {
            if (reasons[i] is null) readable.Add(files[i]);
            else
            {
                claims.Fail(files[i].Claimed, reasons[i]!);
                logger.LogWarning("{File} failed: {Reason}", files[i].Original, reasons[i]);
                failed++;
            }
        }

        var results = new List<ScoredImage>();
        if (readable.Count > 0)
        {
            var now = DateTimeOffset.UtcNow;
            ScoringModel current = model!;
            try
            {
                ImagePrediction[] predictions = current.Score(readable.Select(f => f.Claimed).ToList());
                results.AddRange(readable.Select((f, i) => new ScoredImage(Path.GetFileName(f.Original), predictions[i], current.Id, now)));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Some file decodes but the pipeline still refuses it: score one by one so only that file fails.
                logger.LogWarning("Batch {Batch} failed as a whole ({Reason}); scoring its files one by one", batchId, e.Message);
                foreach (var file in readable)
                {
                    try
                    {
                        results.Add(new ScoredImage(Path.GetFileName(file.Original), current.Score([file.Claimed])[0], current.Id, now));
                    }
                    catch (Exception single) when (single is not OutOfMemoryException)
                    {
                        claims.Fail(file.Claimed, $"the model could not score it: {single.Message}");
                        failed++;
                    }
                }
            }
            if (results.Count > 0) ResultWriter.Write(options.Outbox, batchId, options.ResultFormat, results); // the commit
        }
        claims.Complete(batchFolder);
        metrics.RecordBatch(results.Count, failed, clock.Elapsed);
        logger.LogInformation("Batch {Batch}: {Scored} scored, {Failed} failed in {Milliseconds:F0} ms", batchId, results.Count, failed, clock.Elapsed.TotalMilliseconds);
        return files.Count;
    }

    // Null when the file decodes as an image; otherwise why not.
    private static string? Unreadable(string path)
    {
        try
        {
            if (new FileInfo(path).Length == 0) return "empty file";
            using var image = MLImage.CreateFromFile(path);
            return image.Width > 0 && image.Height > 0 ? null : "an image with no pixels";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"not a readable image: {e.Message}";
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The loop ends after the batch in flight; then nothing is left claimed.
        await base.StopAsync(cancellationToken);
        watcher?.Dispose();
        claims?.Dispose();
        logger.LogInformation("Stopped after {Scored} images scored and {Failed} failed", metrics.Scored, metrics.Failed);
    }
}
