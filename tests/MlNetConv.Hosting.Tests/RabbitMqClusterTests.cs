using MlNetConv.Tests.Shared;
using Xunit.Abstractions;

namespace MlNetConv.Hosting.Tests;

/// <summary>
/// Three private RabbitMQ nodes on loopback in one cluster, the request queue replicated on all three; one node is
/// killed with SIGKILL mid-run: the queue lives on in the majority, the workers move to the nodes that answer, and
/// nothing is lost.
/// </summary>
[Collection(nameof(Models))]
public class RabbitMqClusterTests(Models models, ITestOutputHelper output)
{
    [Fact]
    public async Task KillingOneNodeOfAThreeNodeClusterMidRunLosesNothing()
    {
        using var cluster = new RabbitMqCluster(3);
        string prefix = $"cluster-{Guid.NewGuid().ToString("N")[..8]}";
        RabbitMqOptions Options(string uri) => RabbitMqTestSettings.FreshQueues(uri, prefix);
        RabbitMqOptions broker = Options(cluster.Uri);
        string[] ids = [.. Enumerable.Range(0, 3000).Select(i => $"image-{i:D4}.png")]; // enough to outlast the kill at 300
        await using (var client = await RabbitMqScoringClient.ConnectAsync(broker))
            await Task.WhenAll(ids.Select((id, i) => client.EnqueueAsync(id, File.ReadAllBytes(models.Pool[i % Models.PoolSize]), "image/png")));
        string members = cluster.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "members");
        string requestMembers = members.Split('\n').Single(l => l.StartsWith(broker.RequestQueue + "\t", StringComparison.Ordinal));
        Assert.All(cluster.Nodes, n => Assert.Contains(n.Name, requestMembers)); // replicated on every node

        var settings = RabbitMqTestSettings.Worker(broker, models.ModelA, batchSize: 4, threads: 1);
        RabbitMqNode survivor = cluster.Nodes[0], victim = cluster.Nodes[1];
        var log = new LogCollector();
        using (var first = Workspace.CreateHost(settings, log))
        using (var second = Workspace.CreateHost(settings, log))
        {
            await Task.WhenAll(first.StartAsync(), second.StartAsync());
            Workspace.WaitUntil(() => survivor.MessageCountAsync(broker.ResultQueue).Result >= 300, "the first 300 results");
            victim.Kill();
            uint atKill = await survivor.MessageCountAsync(broker.ResultQueue);
            Assert.True(atKill < ids.Length, "the run ended before the node was killed; nothing was tested");
            Workspace.WaitUntil(() => survivor.MessageCountAsync(broker.RequestQueue).Result == 0
                && survivor.MessageCountAsync(broker.ResultQueue).Result >= ids.Length, "every request to be scored after the kill", seconds: 180);
            await Task.WhenAll(first.StopAsync(), second.StopAsync());
            output.WriteLine($"3-node cluster, {ids.Length} requests, 2 workers: node {victim.Name} killed at {atKill} results");
        }

        var results = new List<ScoringResult>();
        await using (var client = await RabbitMqScoringClient.ConnectAsync(Options(survivor.Uri)))
            await foreach (ScoringResult result in client.ReadResultsAsync(TimeSpan.FromSeconds(3))) results.Add(result);
        Assert.Equal(ids.Order(), results.Select(r => r.RequestId).Distinct().Order());
        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        output.WriteLine($"{results.Count} results, {results.Count - results.Select(r => r.Key).Distinct().Count()} duplicates");
    }
}
