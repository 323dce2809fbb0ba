namespace MlNetConv.Tests.Shared;

/// <summary>A RabbitMQ cluster of private nodes on loopback: the first node, and the others joined to it.</summary>
public sealed class RabbitMqCluster : IDisposable
{
    public RabbitMqCluster(int size)
    {
        var first = new RabbitMqNode();
        Nodes = [first, .. Enumerable.Range(1, size - 1).Select(_ => first.Join())];
    }

    public IReadOnlyList<RabbitMqNode> Nodes { get; }

    /// <summary>Every node's URI, separated by commas, as ImageScoring:RabbitMq:Uri takes a cluster.</summary>
    public string Uri => string.Join(",", Nodes.Select(n => n.Uri));

    public void Dispose()
    {
        // The joined nodes first: the first one's epmd goes with it.
        foreach (RabbitMqNode node in Nodes.Reverse()) node.Dispose();
    }
}
