using System.Diagnostics;
using Xunit.Abstractions;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Hosting.Tests;

/// <summary>
/// Three worker processes on one request queue of 2,000 images, killed with SIGKILL at random moments, through one
/// dropped connection and one broker stop and start, with corrupt images and a poison request among them: a reference
/// to a named pipe that no one writes to, so whichever worker takes it hangs reading it and is killed for it, again and
/// again, until the broker dead-letters it.
/// </summary>
[Collection(nameof(Models))]
public class RabbitMqChaosTests(Models models, RabbitMqNode node, ITestOutputHelper output)
{
    private const int Images = 2000, Corrupt = 12;

    [Fact]
    public async Task NothingIsLostThroughKillsADroppedConnectionAndABrokerRestart()
    {
        string root = Directory.CreateTempSubdirectory("mlnetconv-chaos").FullName;
        RabbitMqOptions broker = RabbitMqTestSettings.FreshQueues(node.Uri, $"chaos-{Guid.NewGuid().ToString("N")[..8]}");
        broker.DeliveryLimit = 4;
        string poison = Path.Combine(root, "poison.png");
        using (var mkfifo = Process.Start("mkfifo", [poison])) mkfifo.WaitForExit();
        byte[] png = File.ReadAllBytes(models.Pool[0]);
        var corrupt = Enumerable.Range(0, Corrupt).ToDictionary(i => $"corrupt-{i:D2}.png", i => i % 2 == 0 ? png[..(png.Length / 3)] : [.. "no image here"u8]);
        string[] ids = [.. Enumerable.Range(0, Images).Select(i => $"image-{i:D4}.png")];
        await using (var client = await RabbitMqScoringClient.ConnectAsync(broker))
        {
            var publishes = ids.Select((id, i) => client.EnqueueAsync(id, File.ReadAllBytes(models.Pool[i % Models.PoolSize]), "image/png")).ToList();
            await Task.WhenAll(publishes.Take(Images / 2));
            // The poison and the corrupt ones among the rest, not at the end.
            await client.EnqueueReferenceAsync("poison.png", new ImageReference(poison, new string('0', 64)));
            foreach (var (id, bytes) in corrupt) await client.EnqueueAsync(id, bytes, "image/png");
            await Task.WhenAll(publishes);
        }

        var workers = new List<Process>();
        int started = 0, killedForPoison = 0;
        void StartWorker()
        {
            var worker = WorkerProcess.Start(WorkerProcess.Arguments(WorkerSettings(broker, root)));
            string logFile = Path.Combine(root, $"worker-{++started}.log");
            _ = Task.Run(async () => await File.WriteAllTextAsync(logFile, await worker.StandardOutput.ReadToEndAsync()));
            _ = worker.StandardError.ReadToEndAsync();
            workers.Add(worker);
        }
        void Kill(Process worker)
        {
            worker.Kill(); // SIGKILL: no shutdown code runs
            worker.WaitForExit();
            workers.Remove(worker);
            StartWorker();
        }

        var clock = Stopwatch.StartNew();
        using var done = new CancellationTokenSource();
        lock (workers) for (int i = 0; i < 3; i++) StartWorker();

        // Whoever opens the poison's pipe to read it hangs there; it is killed, as a real poison would kill it.
        Task poisoner = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                using (var writer = new FileStream(poison, FileMode.Open, FileAccess.Write)) // returns once a reader opened it
                {
                    if (done.IsCancellationRequested) break;
                    lock (workers)
                    {
                        // Killed before this end closes: a closed pipe would give the reader an empty file instead.
                        Process? reader = null;
                        for (int attempt = 0; reader is null && attempt < 100; attempt++)
                        {
                            reader = workers.FirstOrDefault(w => HasOpen(w, poison));
                            if (reader is null) Thread.Sleep(20);
                        }
                        Assert.NotNull(reader);
                        Kill(reader);
                        killedForPoison++;
                    }
                }
            }
        });

        // The chaos, at points of progress (results published), each at a random moment and a random worker.
        var random = new Random(7);
        (double At, string Action)[] plan =
            [(0.06, "kill"), (0.14, "kill"), (0.22, "drop"), (0.3, "kill"), (0.42, "restart"), (0.52, "kill"), (0.62, "kill"), (0.75, "kill")];
        int next = 0, killedAtRandom = 0;
        bool dropped = false, restarted = false;
        // Done when every request is acknowledged (its result published first) or dead-lettered.
        while (next < plan.Length || !await FinishedAsync(broker))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(4), $"The run did not finish: {Messages(broker.RequestQueue)} + {Messages(broker.RetryQueue)} requests left.");
            await Task.Delay(random.Next(100, 400));
            if (next == plan.Length || await node.MessageCountAsync(broker.ResultQueue) < plan[next].At * Images) continue;
            switch (plan[next++].Action)
            {
                case "kill":
                    lock (workers) Kill(workers[random.Next(workers.Count)]);
                    killedAtRandom++;
                    break;
                case "drop":
                    node.Ctl("close_all_connections", "dropped by the chaos test");
                    dropped = true;
                    break;
                case "restart":
                    node.Stop();
                    await Task.Delay(1000);
                    node.Start();
                    restarted = true;
                    break;
            }
        }
        await done.CancelAsync();
        // A reader for the pipe, for a moment, lets the poisoner's last open return.
        using (var release = Process.Start("timeout", ["5", "sh", "-c", $"cat < '{poison}' > /dev/null"])) release.WaitForExit();
        await poisoner.WaitAsync(TimeSpan.FromSeconds(10));
        lock (workers)
            foreach (Process worker in workers.ToArray())
            {
                using (var term = Process.Start("kill", ["-TERM", worker.Id.ToString()])) term.WaitForExit();
                worker.WaitForExit(30_000);
            }

        var raw = new List<ScoringResult>();
        await using (var client = await RabbitMqScoringClient.ConnectAsync(broker))
            await foreach (ScoringResult result in client.ReadResultsAsync(TimeSpan.FromSeconds(3))) raw.Add(result);
        var kept = raw.GroupBy(r => r.Key).Select(g => g.First()).ToList();
        output.WriteLine($"{Images} images + {Corrupt} corrupt + 1 poison, 3 workers: {clock.Elapsed.TotalSeconds:F0} s, {killedAtRandom} random kills, " +
            $"{killedForPoison} kills for the poison, dropped connection {dropped}, broker restart {restarted}; {raw.Count} results received, " +
            $"{raw.Count - kept.Count} duplicates dropped, {kept.Count} kept");

        Assert.True(dropped && restarted && killedAtRandom == 6, "the run ended before all its chaos");
        Assert.Equal(ids.Order(), kept.Where(r => r.Succeeded).Select(r => r.RequestId).Order());       // each good image: one result
        Assert.Single(kept.Select(r => r.ModelId).Distinct());
        foreach (var (id, _) in corrupt)
            Assert.False(string.IsNullOrEmpty(Assert.Single(kept, r => r.RequestId == id).Reason));       // each corrupt one: its failure
        Assert.DoesNotContain(kept, r => r.RequestId == "poison.png");
        Assert.Equal(0u, await node.MessageCountAsync(broker.RequestQueue));
        Assert.Equal(0u, await node.MessageCountAsync(broker.RetryQueue));
        Assert.Equal(1u, await node.MessageCountAsync(broker.DeadLetterQueue));                           // the poison, dead-lettered
        // Each delivery of the poison failed, one in the request queue and the limit's worth in the retry queue: most by its
        // own kill, some maybe by a random kill, the dropped connection or the restart.
        Assert.InRange(killedForPoison, 1, broker.DeliveryLimit + 2);
        Directory.Delete(root, recursive: true);
    }

    private async Task<bool> FinishedAsync(RabbitMqOptions broker) =>
        await node.MessageCountAsync(broker.RequestQueue) == 0 && await node.MessageCountAsync(broker.RetryQueue) == 0 &&
        await node.MessageCountAsync(broker.DeadLetterQueue) == 1 && Messages(broker.RequestQueue) + Messages(broker.RetryQueue) == 0;

    // Messages in a queue, ready and unacknowledged.
    private long Messages(string queue) =>
        long.Parse(node.Ctl("list_queues", "--quiet", "--no-table-headers", "name", "messages").Split('\n')
            .Select(l => l.Split('\t')).Single(f => f[0] == queue)[1]);

    // Whether the process holds the file open: /proc/PID/fd links to it.
    private static bool HasOpen(Process process, string path)
    {
        try
        {
            return Directory.EnumerateFiles($"/proc/{process.Id}/fd").Any(fd => new FileInfo(fd).LinkTarget == path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // it just exited
        }
    }

    private Dictionary<string, string?> WorkerSettings(RabbitMqOptions broker, string referenceRoot) =>
        new(RabbitMqTestSettings.Worker(broker, models.ModelA, batchSize: 16, threads: 1))
        {
            ["ImageScoring:RabbitMq:ReferenceRoot"] = referenceRoot,
            ["Logging:LogLevel:Default"] = "Information",
        };
}
