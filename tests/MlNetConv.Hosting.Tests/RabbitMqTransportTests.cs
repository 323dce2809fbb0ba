using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.ML;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Hosting.Tests;

/// <summary>The RabbitMQ transport against a real broker: a private node this test run started on loopback.</summary>
[Collection(nameof(Models))]
public class RabbitMqTransportTests(Models models, RabbitMqNode node)
{
    [Fact]
    public async Task EveryRequestGetsItsPredictionOrItsFailureAndTheQueueEmpties()
    {
        var queues = new Queues(node, models);
        byte[] png = File.ReadAllBytes(models.Pool[0]);
        string[] good = models.Pool[..120];
        await using (var client = await RabbitMqScoringClient.ConnectAsync(queues.Client))
        {
            foreach (string file in good) await client.EnqueueAsync(Path.GetFileName(file), File.ReadAllBytes(file), "image/png");
            await client.EnqueueAsync("notes.png", "not an image"u8.ToArray());
            await client.EnqueueAsync("half.png", png[..(png.Length / 2)], "image/png");
        }
        var log = new LogCollector();
        List<ScoringResult> results;
        using (var host = Workspace.CreateHost(queues.Settings(batchSize: 16), log))
        {
            await host.StartAsync();
            results = await queues.ReadResultsAsync(expected: good.Length + 2);
            await host.StopAsync();
        }

        var byId = results.ToDictionary(r => r.RequestId); // one result per request: no duplicates without a crash
        var ml = new MLContext();
        var engine = ml.Model.CreatePredictionEngine<Models.ImageRow, WorkerTests.Prediction>(ml.Model.Load(models.ModelA, out _));
        foreach (string file in good)
        {
            ScoringResult result = byId[Path.GetFileName(file)];
            Assert.True(result.Succeeded);
            Assert.Equal(engine.Predict(new Models.ImageRow { ImagePath = file }).PredictedLabel, result.PredictedLabel);
            Assert.Equal(3, result.Top!.Count);
            Assert.Equal(ScoringMessages.Version, result.Version);
        }
        Assert.StartsWith("not an image the decoder knows", byId["notes.png"].Reason);
        Assert.StartsWith("truncated: the Png data ends before the image does", byId["half.png"].Reason);
        Assert.Single(results.Select(r => r.ModelId).Distinct());
        Assert.Equal(0u, await node.MessageCountAsync(queues.Client.RequestQueue));
        Assert.Equal(0u, await node.MessageCountAsync(queues.Client.DeadLetterQueue));
        Assert.Contains(log.Messages, m => m.StartsWith("Information: Connected to amqp://127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheWorkerDeclaresQuorumQueuesWithEveryArgumentExplicitAndStopsOnAConflict()
    {
        var queues = new Queues(node, models);
        await (await RabbitMqScoringClient.ConnectAsync(queues.Client)).DisposeAsync();
        string listed = node.Ctl("list_queues", "--quiet", "name", "type", "arguments");
        string requestLine = listed.Split('\n').Single(l => l.StartsWith(queues.Client.RequestQueue + "\t", StringComparison.Ordinal));
        Assert.Contains("\tquorum\t", requestLine);
        foreach (string argument in new[] { "{\"x-delivery-limit\",5}", "{\"x-dead-letter-strategy\",\"at-least-once\"}",
                     "{\"x-overflow\",\"reject-publish\"}", $"{{\"x-dead-letter-exchange\",\"{queues.Client.DeadLetterExchange}\"}}",
                     $"{{\"x-dead-letter-routing-key\",\"{queues.Client.RequestQueue}\"}}", "{\"x-max-length\",1000000}" })
            Assert.True(requestLine.Replace(" ", "").Contains(argument, StringComparison.Ordinal), $"{argument} is not among {requestLine}");
        string retryLine = listed.Split('\n').Single(l => l.StartsWith(queues.Client.RetryQueue + "\t", StringComparison.Ordinal));
        Assert.Equal(requestLine[requestLine.IndexOf('\t')..], retryLine[retryLine.IndexOf('\t')..]); // the same arguments
        Assert.Contains(listed.Split('\n'), l => l.StartsWith(queues.Client.ResultQueue + "\tquorum", StringComparison.Ordinal));
        Assert.Contains(listed.Split('\n'), l => l.StartsWith(queues.Client.DeadLetterQueue + "\tquorum", StringComparison.Ordinal));

        // Another delivery limit for the same queue: the worker stops with the broker's reason instead of retrying.
        var settings = queues.Settings();
        settings["ImageScoring:RabbitMq:DeliveryLimit"] = "7";
        var log = new LogCollector();
        using var host = Workspace.CreateHost(settings, log);
        await host.StartAsync();
        var lifetime = (IHostApplicationLifetime)host.Services.GetService(typeof(IHostApplicationLifetime))!;
        Assert.True(lifetime.ApplicationStopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(30)), "the worker did not stop on the conflict");
        await host.StopAsync();
        Assert.Contains(log.Messages, m => m.StartsWith("Critical: The broker refused the worker's queues: PRECONDITION_FAILED", StringComparison.Ordinal)
            && m.Contains("x-delivery-limit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ADroppedConnectionAndABrokerRestartMidRunLoseNothing()
    {
        var queues = new Queues(node, models);
        // Enough requests, scored one per batch (a publish and an ack each), that the run outlasts both interruptions.
        string[] ids = [.. Enumerable.Range(0, 4000).Select(i => $"image-{i:D4}.png")];
        await using (var client = await RabbitMqScoringClient.ConnectAsync(queues.Client))
            await Task.WhenAll(ids.Select((id, i) => client.EnqueueAsync(id, File.ReadAllBytes(models.Pool[i % Models.PoolSize]), "image/png")));

        var log = new LogCollector();
        var settings = queues.Settings(batchSize: 1);
        settings["ImageScoring:MaxDegreeOfParallelism"] = "1";
        using (var host = Workspace.CreateHost(settings, log))
        {
            await host.StartAsync();
            Workspace.WaitUntil(() => node.MessageCountAsync(queues.Client.ResultQueue).Result >= 100, "the first 100 results");
            node.Ctl("close_all_connections", "dropped by the test");
            Workspace.WaitUntil(() => node.MessageCountAsync(queues.Client.ResultQueue).Result >= 300, "results after the dropped connection");
            uint waiting = await node.MessageCountAsync(queues.Client.RequestQueue);
            node.Stop();
            await Task.Delay(1500);
            node.Start();
            Assert.True(waiting > 0, "the run ended before the broker restart; nothing was tested");
            Workspace.WaitUntil(() => node.MessageCountAsync(queues.Client.RequestQueue).Result == 0, "every request to be taken after the restart", seconds: 120);
            await Task.Delay(500);
            await host.StopAsync();
        }
        List<ScoringResult> results = await queues.ReadResultsAsync(expected: ids.Length, allowDuplicates: true);
        var keys = results.Select(r => r.Key).ToHashSet();
        Assert.Equal(ids.Length, keys.Count);
        Assert.Equal(ids.Order(), results.Select(r => r.RequestId).Distinct().Order());
        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        Assert.Equal(0u, await node.MessageCountAsync(queues.Client.RequestQueue));
        Assert.True(log.Messages.Count(m => m.StartsWith("Warning: Lost the broker at amqp://127.0.0.1:", StringComparison.Ordinal)) >= 2,
            "two connection losses logged: " + string.Join(" | ", log.Messages.Where(m => m.Contains("broker", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task ImageReferencesAreReadFromTheReferenceRootAndCheckedByTheirSha256()
    {
        var queues = new Queues(node, models);
        string root = Directory.CreateTempSubdirectory("mlnetconv-references").FullName;
        string outside = Path.Combine(Path.GetTempPath(), $"mlnetconv-outside-{Guid.NewGuid():N}.png");
        try
        {
            string good = Path.Combine(root, "good.png"), changed = Path.Combine(root, "changed.png");
            File.Copy(models.Pool[0], good);
            File.Copy(models.Pool[1], changed);
            File.Copy(models.Pool[2], outside);
            await using (var client = await RabbitMqScoringClient.ConnectAsync(queues.Client))
            {
                await client.EnqueueReferenceAsync("good", good);
                await client.EnqueueReferenceAsync("changed", changed);
                await client.EnqueueReferenceAsync("outside", outside);
            }
            File.Copy(models.Pool[3], changed, overwrite: true); // after the request was made: its SHA-256 no longer matches
            var settings = queues.Settings();
            settings["ImageScoring:RabbitMq:ReferenceRoot"] = root;
            List<ScoringResult> results;
            using (var host = Workspace.CreateHost(settings))
            {
                await host.StartAsync();
                results = await queues.ReadResultsAsync(expected: 3);
                await host.StopAsync();
            }
            var byId = results.ToDictionary(r => r.RequestId);
            Assert.True(byId["good"].Succeeded, byId["good"].ToString());
            Assert.Matches("^the referenced file's SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} the request states", byId["changed"].Reason);
            Assert.Equal($"the referenced file '{outside}' is outside ImageScoring:RabbitMq:ReferenceRoot", byId["outside"].Reason);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            File.Delete(outside);
        }
    }

    [Fact]
    public async Task ARedeliveredRequestsSecondResultHasTheSameKeyAndIsDropped()
    {
        var queues = new Queues(node, models);
        byte[] png = File.ReadAllBytes(models.Pool[0]);
        await using (var client = await RabbitMqScoringClient.ConnectAsync(queues.Client))
        {
            // What a redelivery after a crash produces: the same request scored twice.
            await client.EnqueueAsync("twice.png", png, "image/png");
            await client.EnqueueAsync("twice.png", png, "image/png");
            await client.EnqueueAsync("once.png", png, "image/png");
        }
        using (var host = Workspace.CreateHost(queues.Settings(batchSize: 1)))
        {
            await host.StartAsync();
            Workspace.WaitUntil(() => node.MessageCountAsync(queues.Client.ResultQueue).Result == 3, "three results");
            await host.StopAsync();
        }
        // The README's way: keep the first result per key.
        var kept = new Dictionary<string, ScoringResult>();
        int dropped = 0;
        await using (var client = await RabbitMqScoringClient.ConnectAsync(queues.Client))
            await foreach (ScoringResult result in client.ReadResultsAsync(TimeSpan.FromSeconds(2)))
                if (!kept.TryAdd(result.Key, result)) dropped++;
        Assert.Equal(["once.png", "twice.png"], kept.Values.Select(r => r.RequestId).Order());
        Assert.Equal(1, dropped);
    }

    [Fact]
    public async Task TheWorkerExamplesEnqueueAndResultsCommandsCarryAFolderThrough()
    {
        var queues = new Queues(node, models);
        string root = Directory.CreateTempSubdirectory("mlnetconv-commands").FullName;
        try
        {
            string inbox = Directory.CreateDirectory(Path.Combine(root, "inbox")).FullName, collected = Path.Combine(root, "results");
            foreach (string file in models.Pool[..40]) File.Copy(file, Path.Combine(inbox, Path.GetFileName(file)));
            File.WriteAllText(Path.Combine(inbox, "broken.png"), "not an image");
            string[] settings = [.. WorkerProcess.Arguments(queues.Settings())];
            Assert.Matches(@"^enqueued 41 images from .*inbox to test-\w+\.requests in [0-9.]+ s$", RunExample(["--enqueue", inbox, .. settings]).Trim());

            using (var host = Workspace.CreateHost(queues.Settings()))
            {
                await host.StartAsync();
                Workspace.WaitUntil(() => node.MessageCountAsync(queues.Client.ResultQueue).Result == 41, "41 results");
                await host.StopAsync();
            }
            Assert.Matches(@"^wrote 41 results \(1 failures\) to .*results; dropped 0 duplicates; none came for 1 s$",
                RunExample(["--results", collected, "--idle", "1", .. settings]).Trim());
            string[] files = Directory.GetFiles(collected, "*.json");
            Assert.Equal(41, files.Length);
            ScoringResult broken = ScoringResult.Parse(File.ReadAllBytes(Assert.Single(files, f => Path.GetFileName(f).StartsWith("broken.png.", StringComparison.Ordinal))));
            Assert.StartsWith("not an image the decoder knows", broken.Reason);
            Assert.Equal(2, RunExampleExitCode(["--enqueue"]));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string RunExample(string[] args)
    {
        using var process = StartExample(args);
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the example did not end");
        Assert.True(process.ExitCode == 0, $"the example failed ({process.ExitCode}): {output}{error.Result}");
        return output;
    }

    private static int RunExampleExitCode(string[] args)
    {
        using var process = StartExample(args);
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return process.ExitCode;
    }

    private static Process StartExample(string[] args) => WorkerProcess.Start(["--Logging:LogLevel:Default=Warning", .. args]);

    /// <summary>Queues of one test (names of their own on the shared node) and the worker settings that use them.</summary>
    private sealed class Queues(RabbitMqNode node, Models models)
    {
        private readonly string prefix = $"test-{Guid.NewGuid().ToString("N")[..8]}";

        public RabbitMqOptions Client => RabbitMqTestSettings.FreshQueues(node.Uri, prefix);

        public Dictionary<string, string?> Settings(int batchSize = 16) => RabbitMqTestSettings.Worker(Client, models.ModelA, batchSize, threads: 2);

        /// <summary>Reads results until <paramref name="expected"/> distinct requests have one (and, unless allowed, no duplicates).</summary>
        public async Task<List<ScoringResult>> ReadResultsAsync(int expected, bool allowDuplicates = false)
        {
            var results = new List<ScoringResult>();
            var clock = Stopwatch.StartNew();
            await using var client = await RabbitMqScoringClient.ConnectAsync(Client);
            while (results.Select(r => r.RequestId).Distinct().Count() < expected)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(120)) Assert.Fail($"Timed out with {results.Count} results of {expected}.");
                await foreach (ScoringResult result in client.ReadResultsAsync(TimeSpan.FromSeconds(2))) results.Add(result);
            }
            if (!allowDuplicates) Assert.Equal(results.Count, results.Select(r => r.Key).Distinct().Count());
            return results;
        }
    }
}
