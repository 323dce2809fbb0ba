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
        WarmUp(cancellationToken);
        claims = new ClaimStore(options);
        int recovered = claims.RecoverAbandoned();
        logger.LogInformation("Scoring {Inbox} with model {ModelId} ({ModelPath}) as worker {Worker}; {Recovered} files recovered from stopped workers",
            options.Inbox, core.Model.Id, options.ModelPath, claims.WorkerId, recovered);
        watcher = new FileSystemWatcher(options.Inbox) { IncludeSubdirectories = false, EnableRaisingEvents = true };
        watcher.Created += (_, _) => Wake();
        watcher.Renamed += (_, _) => Wake();
        await base.StartAsync(cancellationToken);
    }

    // The warm-up runs the whole folder path (blank images claimed, read, scored, their result file written, moved to
    // done/) in a private folder under the temporary directory, never the inbox: warming the scoring alone left the file
    // and result code to be compiled during the first real batches, which went a fifth slower than the same worker's
    // next 20,000 images (two rounds of the workers benchmark's images through one worker).
    private void WarmUp(CancellationToken cancellationToken)
    {
        string root = Path.Combine(Path.GetTempPath(), $"mlnetconv-warm-up-{Guid.NewGuid():N}");
        var rehearsal = new ImageScoringOptions
        {
            Inbox = Path.Combine(root, "inbox"), Outbox = Path.Combine(root, "outbox"), BatchSize = options.BatchSize,
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, MaxImagePixels = options.MaxImagePixels, ResultFormat = options.ResultFormat,
        };
        try
        {
            Directory.CreateDirectory(rehearsal.Inbox);
            Directory.CreateDirectory(rehearsal.Done);
            using var store = new ClaimStore(rehearsal);
            core.WarmUp(images =>
            {
                foreach (var image in images) File.WriteAllBytes(Path.Combine(rehearsal.Inbox, image.Id), image.Bytes);
                var batch = ClaimAndRead(store) ?? throw new IOException($"the warm-up's images were not found in {rehearsal.Inbox}");
                Commit(store, batch, core.ScoreUnrecorded(batch.Images));
                foreach (string scored in Directory.EnumerateFiles(rehearsal.Done)) File.Delete(scored);
                foreach (string result in Directory.EnumerateFiles(rehearsal.Outbox)) File.Delete(result);
            }, route: $" through the folder path in {root}", cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The warm-up could not use {Folder} ({Reason}); warming up the scoring alone", root, e.Message);
            core.WarmUp(cancellationToken);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private void Wake()
    {
        if (arrivals.CurrentCount == 0) arrivals.Release();
    }

    // Three batches at a time: while one is scored, the next is claimed and read and the one before is committed; the
    // file work (a rename, a read and a move per image, a result file) costs about what the scoring does.
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        Task committing = Task.CompletedTask;
        Task<ClaimedBatch?>? claiming = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ClaimedBatch? batch;
                try
                {
                    batch = claiming is null ? ClaimAndRead(claims!) : await claiming;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    batch = null;
                    logger.LogError(e, "A file operation failed; retrying after the poll interval");
                }
                finally
                {
                    claiming = null;
                }
                if (batch is null)
                {
                    await committing;
                    if (claims!.RecoverAbandoned() is int recovered and > 0)
                        logger.LogInformation("Recovered {Recovered} files from stopped workers while idle", recovered);
                    try { await arrivals.WaitAsync(options.PollInterval, stoppingToken); }
                    catch (OperationCanceledException) { break; }
                    continue;
                }
                if (!stoppingToken.IsCancellationRequested) claiming = Task.Run(() => ClaimAndRead(claims!), CancellationToken.None);
                core.ReloadModelIfReplaced();
                ScoringOutcome[] outcomes = core.Score(batch.Id, batch.Images);
                await committing;
                committing = Task.Run(() => CommitOrLeaveClaimed(batch, outcomes), CancellationToken.None);
            }
        }
        finally
        {
            // The last batch is committed; one claimed ahead and not scored goes back to the inbox.
            await committing;
            if (claiming is not null)
            {
                try
                {
                    if (await claiming is { } unscored) claims!.Release(unscored.Folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    logger.LogError(e, "A file operation failed while stopping; the files left claimed go back to the inbox when the worker lets go of them");
                }
            }
        }
    }

    /// <summary>A claimed batch: its folder, and the images read from it (a file that cannot be read has failed already).</summary>
    private sealed record ClaimedBatch(string Id, string Folder, List<string> Claimed, List<ImageToScore> Images);

    // Claims up to a batch of inbox files and reads them; null when the inbox has none.
    private ClaimedBatch? ClaimAndRead(ClaimStore store)
    {
        var (batchId, files) = store.Claim(store.Options.BatchSize);
        if (files.Count == 0) return null;
        var claimed = new List<string>();
        var images = new List<ImageToScore>();
        foreach (var file in files)
        {
            try
            {
                images.Add(new ImageToScore(Path.GetFileName(file.Original), File.ReadAllBytes(file.Claimed)));
                claimed.Add(file.Claimed);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                store.Fail(file.Claimed, $"the file could not be read: {e.Message}");
                logger.LogWarning("{File} failed: the file could not be read: {Reason}", file.Original, e.Message);
            }
        }
        return new ClaimedBatch(batchId, Path.GetDirectoryName(files[0].Claimed)!, claimed, images);
    }

    // Failures to failed/, then the result file (the commit), then the inputs to done/; a file operation that fails throws.
    private static void Commit(ClaimStore store, ClaimedBatch batch, ScoringOutcome[] outcomes)
    {
        for (int i = 0; i < outcomes.Length; i++)
            if (!outcomes[i].Scored) store.Fail(batch.Claimed[i], outcomes[i].FailureReason!);
        var results = outcomes.Where(o => o.Scored).ToList();
        if (results.Count > 0) ResultWriter.Write(store.Options.Outbox, batch.Id, store.Options.ResultFormat, results);
        store.Complete(batch.Folder);
    }

    // A real batch's commit: a file operation that fails leaves the batch claimed, settled when the worker stops or by
    // whichever worker recovers it. (The warm-up's commit lets the failure through, to fall back to warming the scoring.)
    private void CommitOrLeaveClaimed(ClaimedBatch batch, ScoringOutcome[] outcomes)
    {
        try
        {
            Commit(claims!, batch, outcomes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogError(e, "A file operation failed committing batch {Batch}; its files stay claimed until the worker stops or is recovered", batch.Id);
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
