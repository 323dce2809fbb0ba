using System.Diagnostics;
using System.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Data;
using SkiaSharp;

namespace MlNetConv.Hosting;

/// <summary>One image to score: an id the transport gives it (a file name, a request id) and its encoded bytes.</summary>
internal readonly record struct ImageToScore(string Id, byte[] Bytes);

/// <summary>What became of one image: a prediction, or the reason it could not be scored. By which model, when.</summary>
internal readonly record struct ScoringOutcome(string Id, ImagePrediction? Prediction, string? FailureReason, string ModelId, DateTimeOffset Time)
{
    public bool Scored => Prediction is not null;
}

/// <summary>
/// The scoring every transport shares: the model zip (loaded at start, replaced between batches when the file changes),
/// each image decoded once and completely (the unreadable ones fail with the decoder's reason, never their batch), a
/// batch scored in one pass (one image at a time only if the batch as a whole fails), the metrics and the log lines.
/// Transports claim the images, and commit the outcomes where they belong.
/// </summary>
internal sealed class ScoringCore(ImageScoringOptions options, ScoringMetrics metrics, ILogger logger)
{
    private ScoringModel? model;

    /// <summary>The model scoring now.</summary>
    public ScoringModel Model => model ?? throw new InvalidOperationException("The scoring core has not loaded its model yet.");

    /// <summary>Loads the model zip; a missing or bad zip throws, naming the path and the problem.</summary>
    public void LoadModel() => model = ScoringModel.Load(options.ModelPath, options.MaxDegreeOfParallelism);

    /// <summary>Between batches: a replaced zip that loads takes over; one that does not (yet) is logged and the old model goes on.</summary>
    public void ReloadModelIfReplaced()
    {
        if (!Model.IsStale()) return;
        try
        {
            var replacement = ScoringModel.Load(options.ModelPath, options.MaxDegreeOfParallelism);
            logger.LogInformation("Model replaced: {OldId} → {NewId}", Model.Id, replacement.Id);
            model = replacement;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Possibly still being copied in; the old model keeps scoring and the next batch tries again.
            logger.LogWarning("The model zip changed but does not load yet ({Reason}); still scoring with {ModelId}", e.Message, Model.Id);
        }
    }

    /// <summary>
    /// Scores blank batches, unrecorded, until .NET has finished compiling the scoring path, so the first real batches
    /// run at full speed. .NET starts every method unoptimized, counts its calls, and recompiles the busy ones in the
    /// background (with profile-guided optimization in two steps of 30 calls each); a method called once a batch is
    /// final only after some 60 batches. A worker that took work after a fixed 40 small batches still scored its first
    /// 20,000 images at two thirds of the speed it reached later (measured with the workers benchmark), the compiler
    /// taking a core's worth of time meanwhile. Done when a run of batches longer than a call-counting cycle compiled
    /// (nearly) nothing new, or at the time limit; a host stopping before it started ends it with <see cref="OperationCanceledException"/>.
    /// </summary>
    public void WarmUp(CancellationToken cancellationToken) => WarmUp(images => ScoreUnrecorded(images), route: "", cancellationToken);

    /// <summary>
    /// As <see cref="WarmUp(CancellationToken)"/>, with each blank batch (of images named "warm-up-&lt;i&gt;.png") run
    /// through <paramref name="runBatch"/>: the transport's whole path for a batch, which scores it with
    /// <see cref="ScoreUnrecorded"/>, so that the transport's own code is compiled before the first real batch too;
    /// <paramref name="route"/> says in the log line where the batches went.
    /// </summary>
    public void WarmUp(Action<IReadOnlyList<ImageToScore>> runBatch, string route, CancellationToken cancellationToken)
    {
        using var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque);
        bitmap.Erase(SKColors.Gray);
        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        byte[] bytes = png.ToArray();
        var images = Enumerable.Range(0, options.BatchSize).Select(i => new ImageToScore($"warm-up-{i}.png", bytes)).ToList();
        var clock = Stopwatch.StartNew();
        long compiled = JitInfo.GetCompiledMethodCount();
        var lastRounds = new Queue<long>(); // methods compiled during each of the last QuietRounds batches
        long compiledInLastRounds = 0;
        int rounds = 0;
        bool settled = false;
        while (!settled && clock.Elapsed < WarmUpLimit && !cancellationToken.IsCancellationRequested)
        {
            runBatch(images);
            rounds++;
            long now = JitInfo.GetCompiledMethodCount();
            lastRounds.Enqueue(now - compiled);
            compiledInLastRounds += now - compiled;
            compiled = now;
            if (lastRounds.Count > QuietRounds) compiledInLastRounds -= lastRounds.Dequeue();
            settled = lastRounds.Count == QuietRounds && compiledInLastRounds <= QuietCompilations;
        }
        logger.LogInformation("Warmed up in {Milliseconds:F0} ms ({Rounds} batches of {Count} blank images{Route}{Limit})",
            clock.Elapsed.TotalMilliseconds, rounds, images.Count, route,
            settled ? "" : cancellationToken.IsCancellationRequested ? "; cut short by the host stopping" : "; stopped at the time limit, still compiling");
        // A stop during the start ends the start here: the transport then neither claims nor consumes anything.
        cancellationToken.ThrowIfCancellationRequested();
    }

    // More batches than the 30 calls after which .NET promotes a method: a run this long in which (nearly) nothing was
    // compiled means every method a batch calls is at its final tier. Nearly: the runtime's own housekeeping (the thread
    // pool's hill climbing, finalizers, pool trimming) keeps having methods promoted one to six at a time, about 10 per
    // 40 batches of 128 through the folder path, whereas the batches' own methods come in tens to hundreds per 40
    // batches until they are done (200 batches, 9 s, in the trace this was read from). Waiting for no compilation at
    // all, or for at most 10, ran into the time limit in some runs. The limit bounds the start on a machine too slow or
    // busy for any of that.
    private const int QuietRounds = 40;
    private const int QuietCompilations = 25;
    private static readonly TimeSpan WarmUpLimit = TimeSpan.FromSeconds(20);

    /// <summary>Decodes and scores one batch; the outcomes are in the order of <paramref name="images"/>.</summary>
    public ScoringOutcome[] Score(string batchId, IReadOnlyList<ImageToScore> images)
    {
        var clock = Stopwatch.StartNew();
        ScoringOutcome[] outcomes = ScoreUnrecorded(images);
        int scored = outcomes.Count(o => o.Scored), failed = outcomes.Length - scored;
        foreach (var failure in outcomes.Where(o => !o.Scored))
            logger.LogWarning("{Image} failed: {Reason}", failure.Id, failure.FailureReason);
        metrics.RecordBatch(scored, failed, clock.Elapsed);
        logger.LogInformation("Batch {Batch}: {Scored} scored, {Failed} failed in {Milliseconds:F0} ms", batchId, scored, failed, clock.Elapsed.TotalMilliseconds);
        return outcomes;
    }

    /// <summary>
    /// Decodes and scores one batch with nothing counted or logged (the warm-up's scoring). Each image is decoded once,
    /// the readable ones scored in one pass (one by one only if the pass fails).
    /// </summary>
    public ScoringOutcome[] ScoreUnrecorded(IReadOnlyList<ImageToScore> images)
    {
        ScoringModel current = Model;
        var now = DateTimeOffset.UtcNow;
        var outcomes = new ScoringOutcome[images.Count];
        var decoded = new MLImage?[images.Count];
        try
        {
            Parallel.For(0, images.Count, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism }, i =>
            {
                (decoded[i], string? reason) = ImageDecoder.Decode(images[i].Bytes, options.MaxImagePixels);
                if (reason is not null) outcomes[i] = Failure(images[i].Id, reason);
            });
            int[] readable = [.. Enumerable.Range(0, images.Count).Where(i => decoded[i] is not null)];
            if (readable.Length > 0)
            {
                try
                {
                    ImagePrediction[] predictions = current.Score([.. readable.Select(i => images[i].Id)], [.. readable.Select(i => decoded[i]!)]);
                    for (int k = 0; k < readable.Length; k++) outcomes[readable[k]] = new(images[readable[k]].Id, predictions[k], null, current.Id, now);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // An image decodes but the pipeline still refuses it: score one by one so only that image fails.
                    logger.LogWarning("A batch failed as a whole ({Reason}); scoring its images one by one", e.Message);
                    foreach (int i in readable) outcomes[i] = ScoreAlone(current, images[i].Id, decoded[i]!, now);
                }
            }
        }
        finally
        {
            foreach (MLImage? image in decoded) image?.Dispose();
        }

        return outcomes;

        ScoringOutcome Failure(string id, string reason) => new(id, null, reason, current.Id, now);
    }

    private static ScoringOutcome ScoreAlone(ScoringModel current, string id, MLImage image, DateTimeOffset now)
    {
        try
        {
            return new(id, current.Score([id], [image])[0], null, current.Id, now);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(id, null, $"the model could not score it: {e.Message}", current.Id, now);
        }
    }
}
