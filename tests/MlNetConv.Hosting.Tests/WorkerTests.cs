using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Data;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Hosting.Tests;

[Collection(nameof(Models))]
public class WorkerTests(Models models)
{
    [Fact]
    public async Task ScoresEveryImageOnceWithThePredictionEnginesAnswers()
    {
        using var work = new Workspace(models.ModelA);
        await Workspace.RunHostUntil(work.Settings(), () => work.Done == Models.PoolSize, "every image to be scored", () => work.Drop(models.Pool));
        work.AssertEachScoredOnce(models.Pool);

        var ml = new MLContext();
        var model = ml.Model.Load(models.ModelA, out _);
        var engine = ml.Model.CreatePredictionEngine<Models.ImageRow, Prediction>(model);
        var byFile = work.Results().ToDictionary(r => r.File);
        foreach (string image in models.Pool)
            Assert.Equal(engine.Predict(new Models.ImageRow { ImagePath = image }).PredictedLabel, byFile[Path.GetFileName(image)].Predicted);
        Assert.Single(work.Results().Select(r => r.ModelId).Distinct());
    }

    [Fact]
    public async Task UnreadableFilesGoToFailedWithAReasonWhileTheRestAreScored()
    {
        using var work = new Workspace(models.ModelA);
        string[] good = models.Pool.Take(40).ToArray();
        await Workspace.RunHostUntil(work.Settings(batchSize: 8), () => work.Done == good.Length && work.Failed == 3, "40 scored and 3 failed", () =>
        {
            work.DropBytes("empty.png", []);
            work.DropBytes("noise.png", Enumerable.Range(0, 500).Select(i => (byte)(i * 37)).ToArray());
            work.DropBytes("notes.png", "not an image"u8.ToArray());
            work.Drop(good);
        });
        string failed = Path.Combine(work.Outbox, "failed");
        Assert.Equal("empty file", File.ReadAllText(Path.Combine(failed, "empty.png.reason.txt")).Trim());
        Assert.StartsWith("not an image the decoder knows", File.ReadAllText(Path.Combine(failed, "noise.png.reason.txt")));
        Assert.True(File.Exists(Path.Combine(failed, "notes.png")));
        work.AssertEachScoredOnce(good);
    }

    [Fact]
    public async Task StoppingDuringTheWarmUpEndsItAtOnceAndClaimsNothing()
    {
        using var work = new Workspace(models.ModelA);
        work.Drop(models.Pool.Take(10));
        var log = new LogCollector();
        using IHost host = Workspace.CreateHost(work.Settings(batchSize: 128), log);
        // The warm-up scores batches of 128 until 40 in a row compiled nothing: far longer than this.
        using var stopping = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();
        try
        {
            await host.StartAsync(stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // The host gives up starting: what a stop during the start does.
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the start took {clock.Elapsed.TotalSeconds:F1} s after the stop");
        Assert.Contains(log.Messages, m => m.Contains("cut short by the host stopping"));
        // The host reports that it did not start (its "Hosting failed to start"), not a transport that failed.
        Assert.DoesNotContain(log.Messages, m => m.Contains("BackgroundService failed") || m.StartsWith("Critical"));
        await host.StopAsync();
        Assert.Equal(0, work.Done);
        Assert.Equal(10, work.Pending);
    }

    [Fact]
    public async Task TheWarmUpRunsTheFolderPathOutsideTheInboxAndLeavesNothingBehind()
    {
        using var work = new Workspace(models.ModelA);
        var log = new LogCollector();
        using IHost host = Workspace.CreateHost(work.Settings(batchSize: 4), log);
        await host.StartAsync();
        string warmedUp = Assert.Single(log.Messages, m => m.Contains("Warmed up in"));
        const string marker = " through the folder path in ";
        Assert.Contains(marker, warmedUp);
        string rehearsal = warmedUp[(warmedUp.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Split(';', ')')[0];
        Assert.StartsWith(Path.GetTempPath(), rehearsal);
        Assert.False(Directory.Exists(rehearsal), $"the warm-up left {rehearsal} behind");
        await host.StopAsync();
        // Nothing of the warm-up reached the real folders: no result file, nothing done or failed, no metrics.
        Assert.Empty(Directory.GetFiles(work.Outbox, "*", SearchOption.AllDirectories));
        Assert.Equal(0, work.Done);
        Assert.Contains(log.Messages, m => m.Contains("Stopped after 0 images scored and 0 failed"));
    }

    [Fact]
    public async Task AnImageOfANameAlreadyDoneIsKeptBesideItNotOverwritten()
    {
        using var work = new Workspace(models.ModelA);
        byte[] first = File.ReadAllBytes(models.Pool[0]), second = File.ReadAllBytes(models.Pool[1]);
        await Workspace.RunHostUntil(work.Settings(batchSize: 4), () => work.Done == 3, "the same name scored three times", () =>
        {
            foreach (byte[] bytes in new[] { first, second, first })
            {
                int before = work.Done;
                work.DropBytes("same.png", bytes);
                Workspace.WaitUntil(() => work.Done == before + 1, "the image to be scored");
            }
        });
        string done = Path.Combine(work.Outbox, "done");
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(done, "same.png")));
        Assert.Equal(second, File.ReadAllBytes(Path.Combine(done, "same (2).png")));
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(done, "same (3).png")));
    }

    [Fact]
    public async Task StoppingMidRunAndStartingAgainScoresEveryImageExactlyOnce()
    {
        using var work = new Workspace(models.ModelA);
        // Ten copies of the pool: the worker scores thousands of images a second, and the 300 of the pool alone could all
        // be scored between two looks at the count, so that the first host was never stopped mid-run.
        string[] images = work.Copies(models.Pool, 10);
        work.Drop(images);
        await Workspace.RunHostUntil(work.Settings(batchSize: 8), () => work.Done >= 16, "the first batches");
        Assert.True(work.Done < images.Length, "the first host should have been stopped mid-run");
        await Workspace.RunHostUntil(work.Settings(batchSize: 8), () => work.Done == images.Length, "the rest");
        work.AssertEachScoredOnce(images);
    }

    [Fact]
    public async Task AWorkerProcessKilledMidBatchLosesNothingAndDuplicatesNothing()
    {
        using var work = new Workspace(models.ModelA);
        string[] images = work.Copies(models.Pool, 10); // enough that the kill comes mid-run (see the test above)
        work.Drop(images);
        using (var child = StartChildWorker(work, batchSize: 8))
        {
            _ = child.StandardError.ReadToEndAsync();
            Workspace.WaitUntil(() => work.Done >= 16 || child.HasExited, "the child worker's first batches");
            Assert.False(child.HasExited, "the child worker exited on its own");
            child.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
            child.WaitForExit();
        }
        Assert.True(work.Done < images.Length, "the child should have been killed mid-run");
        await Workspace.RunHostUntil(work.Settings(batchSize: 8), () => work.Done == images.Length, "the restarted worker to finish");
        work.AssertEachScoredOnce(images);
    }

    [Fact]
    public async Task TwoWorkersOnOneInboxNeverScoreAFileTwice()
    {
        using var work = new Workspace(models.ModelA);
        using var first = Workspace.CreateHost(work.Settings(batchSize: 4));
        using var second = Workspace.CreateHost(work.Settings(batchSize: 4));
        await Task.WhenAll(first.StartAsync(), second.StartAsync());
        work.Drop(models.Pool);
        Workspace.WaitUntil(() => work.Done == Models.PoolSize, "both workers to finish");
        await Task.WhenAll(first.StopAsync(), second.StopAsync());
        work.AssertEachScoredOnce(models.Pool);
    }

    [Fact]
    public async Task AReplacedModelZipScoresTheLaterBatches()
    {
        using var work = new Workspace(models.ModelA);
        string[] before = models.Pool.Take(50).ToArray(), after = models.Pool.Skip(50).Take(50).ToArray();
        using (var host = Workspace.CreateHost(work.Settings(batchSize: 10)))
        {
            await host.StartAsync();
            work.Drop(before);
            Workspace.WaitUntil(() => work.Done == 50, "the first 50");
            // Replaced the safe way: copied beside it, then renamed over it.
            File.Copy(models.ModelB, work.ModelPath + ".new");
            File.Move(work.ModelPath + ".new", work.ModelPath, overwrite: true);
            work.Drop(after);
            Workspace.WaitUntil(() => work.Done == 100, "the next 50");
            await host.StopAsync();
        }
        var results = work.Results().ToDictionary(r => r.File);
        string[] idsBefore = before.Select(f => results[Path.GetFileName(f)].ModelId).Distinct().ToArray();
        string[] idsAfter = after.Select(f => results[Path.GetFileName(f)].ModelId).Distinct().ToArray();
        Assert.Single(idsBefore);
        Assert.Single(idsAfter);
        Assert.NotEqual(idsBefore[0], idsAfter[0]);
        Assert.Equal(0, work.Failed);
        work.AssertEachScoredOnce(before.Concat(after));
    }

    [Fact]
    public async Task AModelWithItsOwnColumnNamesIsScoredThroughThem()
    {
        using var work = new Workspace(models.ModelWithOwnNames);
        string[] images = models.Pool[..40];
        await Workspace.RunHostUntil(work.Settings(batchSize: 16), () => work.Done == images.Length, "every image to be scored", () => work.Drop(images));
        Assert.Equal(0, work.Failed);
        work.AssertEachScoredOnce(images);

        var ml = new MLContext();
        var engine = ml.Model.CreatePredictionEngine<Models.NamedImageRow, NamedPrediction>(ml.Model.Load(models.ModelWithOwnNames, out _));
        var byFile = work.Results().ToDictionary(r => r.File);
        foreach (string image in images)
            Assert.Equal(engine.Predict(new Models.NamedImageRow { File = image }).Class, byFile[Path.GetFileName(image)].Predicted);
    }

    [Fact]
    public async Task AModelWhosePreprocessingIsANestedChainIsScored()
    {
        // The FashionMnist example appends its trainer to an IEstimator<ITransformer>, which nests the preprocessing
        // chain inside the fitted one: the same steps as ModelA, one level down.
        var ml = new MLContext();
        ITransformer[] steps = [.. (IEnumerable<ITransformer>)ml.Model.Load(models.ModelA, out DataViewSchema schema)];
        int cnn = Array.FindIndex(steps, t => t is ConvNetTransformer);
        var nested = new TransformerChain<ITransformer>([new TransformerChain<ITransformer>(steps[..cnn]), .. steps[cnn..]]);
        using var work = new Workspace(models.ModelA);
        ml.Model.Save(nested, schema, work.ModelPath);
        string[] images = models.Pool[..30];
        await Workspace.RunHostUntil(work.Settings(), () => work.Done == images.Length, "every image to be scored", () => work.Drop(images));
        work.AssertEachScoredOnce(images);

        using var reference = new Workspace(models.ModelA);
        await Workspace.RunHostUntil(reference.Settings(), () => reference.Done == images.Length, "the flat model's results", () => reference.Drop(images));
        Assert.Equal(reference.Results().Select(r => (r.File, r.Predicted)).Order(), work.Results().Select(r => (r.File, r.Predicted)).Order());
    }

    [Fact]
    public async Task AModelZipTheWorkerCannotScoreStopsTheStartWithTheReason()
    {
        using var work = new Workspace(models.ModelA);
        var ml = new MLContext();
        var cnnThenCopy = ml.Model.Load(models.ModelA, out DataViewSchema schema);
        IDataView rows = ml.Data.LoadFromTextFile<Models.ImageRow>(models.PoolIndex, separatorChar: '\t');
        var extended = ((TransformerChain<ITransformer>)cnnThenCopy).Append(ml.Transforms.CopyColumns("Copy", "Score").Fit(cnnThenCopy.Transform(rows)));
        ml.Model.Save(extended, schema, work.ModelPath);
        using (var host = Workspace.CreateHost(work.Settings()))
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => host.StartAsync());
            Assert.Contains(work.ModelPath, error.Message);
            Assert.Contains("ends in ColumnCopyingTransformer after the CNN", error.Message);
        }

        // A CNN trained on pixel vectors, with no LoadImages step, cannot take image files.
        var pixels = new DatasetDataView(MlNetConv.Tests.Shared.RepositoryData.Test.Slice(0, 64), Core.Data.FashionMnist.ClassNames);
        var fromPixels = ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions
        {
            Layers = [new Core.Layers.Flatten(), new Core.Layers.Dense(10, Core.Layers.Activation.Softmax)],
            Epochs = 1,
            ValidationSplit = 0,
            EarlyStopping = null,
        }).Fit(pixels);
        ml.Model.Save(fromPixels, pixels.Schema, work.ModelPath);
        using (var host = Workspace.CreateHost(work.Settings()))
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => host.StartAsync());
            Assert.Contains("does not read image files (it has no LoadImages step", error.Message);
            Assert.Contains("Features (Vector<Single, 1, 28, 28>)", error.Message);
        }

        // No CNN at all.
        ml.Model.Save(ml.Transforms.CopyColumns("Copy", "Features").Fit(pixels), pixels.Schema, work.ModelPath);
        using (var host = Workspace.CreateHost(work.Settings()))
            Assert.Contains("holds no MlNetConv CNN", (await Assert.ThrowsAsync<InvalidDataException>(() => host.StartAsync())).Message);
    }

    [Fact]
    public async Task BadSettingsOrABadModelStopTheStartWithTheReason()
    {
        using var work = new Workspace(models.ModelA);
        var missingModel = work.Settings();
        missingModel["ImageScoring:ModelPath"] = Path.Combine(work.Root, "nope.zip");
        missingModel["ImageScoring:BatchSize"] = "0";
        using (var host = Workspace.CreateHost(missingModel))
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
            Assert.Contains("nope.zip", error.Message);
            Assert.Contains("BatchSize", error.Message);
        }

        var noInbox = work.Settings();
        noInbox["ImageScoring:Inbox"] = Path.Combine(work.Root, "missing-inbox");
        using (var host = Workspace.CreateHost(noInbox))
            Assert.Contains("missing-inbox", (await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())).Message);

        File.WriteAllBytes(work.ModelPath, "PK not really a zip"u8.ToArray());
        using (var host = Workspace.CreateHost(work.Settings()))
            Assert.Contains(work.ModelPath, (await Assert.ThrowsAsync<InvalidDataException>(() => host.StartAsync())).Message);
    }

    [Fact]
    public async Task AWorkerProcessAndAHostOnOneInboxShareItExactlyOnce()
    {
        using var work = new Workspace(models.ModelA);
        using var child = StartChildWorker(work, batchSize: 2);
        _ = child.StandardError.ReadToEndAsync();
        // The child is ready once its claim folder exists; only then do the files arrive, so both compete for them.
        Workspace.WaitUntil(() => Directory.Exists(Path.Combine(work.Inbox, ".claims")) &&
            Directory.GetDirectories(Path.Combine(work.Inbox, ".claims")).Any(d => d.Contains($"-{child.Id}-", StringComparison.Ordinal)), "the child worker to start");
        using var host = Workspace.CreateHost(work.Settings(batchSize: 2));
        await host.StartAsync();
        work.Drop(models.Pool);
        Workspace.WaitUntil(() => work.Done == Models.PoolSize, "both workers to finish");
        await host.StopAsync();
        child.Kill(entireProcessTree: true);
        child.WaitForExit();
        string[] resultFiles = Directory.GetFiles(work.Outbox, "results-*.jsonl").Select(Path.GetFileName).ToArray()!;
        Assert.Contains(resultFiles, f => f.Contains($"-{child.Id}-", StringComparison.Ordinal));
        Assert.Contains(resultFiles, f => f.Contains($"-{Environment.ProcessId}-", StringComparison.Ordinal));
        work.AssertEachScoredOnce(models.Pool);
    }

    [Fact]
    public async Task CsvResultsAndMetricsAreWritten()
    {
        using var work = new Workspace(models.ModelA);
        var settings = work.Settings(batchSize: 10);
        settings["ImageScoring:ResultFormat"] = "Csv";
        var measured = new Dictionary<string, double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == ScoringMetrics.MeterName) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => { lock (measured) measured[instrument.Name] = measured.GetValueOrDefault(instrument.Name) + value; });
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => { lock (measured) measured[instrument.Name] = value; });
        listener.Start();
        await Workspace.RunHostUntil(settings, () => work.Done == 30 && work.Failed == 1, "30 scored, 1 failed", () =>
        {
            work.Drop(models.Pool.Take(30));
            work.DropBytes("bad.png", [1, 2, 3]);
        });
        string[] lines = Directory.GetFiles(work.Outbox, "results-*.csv").SelectMany(File.ReadLines).ToArray();
        Assert.Equal(30, lines.Count(l => !l.StartsWith("file,", StringComparison.Ordinal)));
        Assert.All(lines.Where(l => l.StartsWith("file,", StringComparison.Ordinal)), h => Assert.Equal("file,predicted_label,label_1,score_1,label_2,score_2,label_3,score_3,model_id,time", h));
        lock (measured)
        {
            Assert.Equal(30, measured["mlnetconv.images.scored"]);
            Assert.Equal(1, measured["mlnetconv.images.failed"]);
            Assert.True(measured["mlnetconv.batch.duration"] > 0);
        }
    }

    [Fact]
    public void TheWorkerExampleExitsNonZeroWithTheReasonOnABadModel()
    {
        using var work = new Workspace(models.ModelA);
        File.WriteAllBytes(work.ModelPath, []);
        using var child = StartChildWorker(work, batchSize: 8);
        string stderr = child.StandardError.ReadToEnd();
        Assert.True(child.WaitForExit(60_000));
        Assert.Equal(1, child.ExitCode);
        Assert.Contains("cannot start", stderr);
        Assert.Contains(work.ModelPath, stderr);
    }

    private static Process StartChildWorker(Workspace work, int batchSize)
    {
        var process = WorkerProcess.Start(WorkerProcess.Arguments(work.Settings(batchSize)));
        _ = process.StandardOutput.ReadToEndAsync();
        return process;
    }

    public sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
    }

    public sealed class NamedPrediction
    {
        public string Class { get; set; } = "";
    }
}
