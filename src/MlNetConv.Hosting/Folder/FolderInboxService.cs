using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MlNetConv.Hosting;

/// <summary>
/// The folder transport: scores images arriving in the inbox, a batch at a time, losing nothing and scoring nothing
/// twice (see <see cref="ClaimStore"/>). File-system events wake it early; a periodic scan catches whatever events miss.
/// On shutdown the batch in flight finishes; nothing stays claimed.
/// </summary>
internal sealed class FolderInboxService(IOptions<ImageScoringOptions> optionsAccessor, ScoringMetrics metrics, ILogger<FolderInboxService> logger)
    : BackgroundService
{
    private readonly ImageScoringOptions options = optionsAccessor.Value;
    private readonly ScoringCore core = new(optionsAccessor.Value, metrics, logger);
    private readonly SemaphoreSlim arrivals = new(0);
    private ClaimStore? claims;
    private FileSystemWatcher? watcher;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // A bad model zip stops the host before it starts: the process exits non-zero with the reason logged.
        core.LoadModel();
        claims = new ClaimStore(options);
        int recovered = claims.RecoverAbandoned();
        logger.LogInformation("Scoring {Inbox} with model {ModelId} ({ModelPath}) as worker {Worker}; {Recovered} files recovered from stopped workers",
            options.Inbox, core.Model.Id, options.ModelPath, claims.WorkerId, recovered);
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
                core.ReloadModelIfReplaced();
                scored = ScoreOneBatch();
                if (scored == 0 && claims!.RecoverAbandoned() is int recovered and > 0)
                    logger.LogInformation("Recovered {Recovered} files from stopped workers while idle", recovered);
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

    // Claims, scores and commits one batch; returns how many files it took.
    private int ScoreOneBatch()
    {
        var (batchId, files) = claims!.Claim(options.BatchSize);
        if (files.Count == 0) return 0;
        string batchFolder = Path.GetDirectoryName(files[0].Claimed)!;

        // Read here, decoded once by the core; a file that cannot even be read fails on its own.
        var readable = new List<(string Original, string Claimed)>();
        var images = new List<ImageToScore>();
        foreach (var file in files)
        {
            try
            {
                images.Add(new ImageToScore(Path.GetFileName(file.Original), File.ReadAllBytes(file.Claimed)));
                readable.Add(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                claims.Fail(file.Claimed, $"the file could not be read: {e.Message}");
                logger.LogWarning("{File} failed: the file could not be read: {Reason}", file.Original, e.Message);
            }
        }

        ScoringOutcome[] outcomes = core.Score(batchId, images);
        for (int i = 0; i < outcomes.Length; i++)
            if (!outcomes[i].Scored) claims.Fail(readable[i].Claimed, outcomes[i].FailureReason!);
        var results = outcomes.Where(o => o.Scored).ToList();
        if (results.Count > 0) ResultWriter.Write(options.Outbox, batchId, options.ResultFormat, results); // the commit
        claims.Complete(batchFolder);
        return files.Count;
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
