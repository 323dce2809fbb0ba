using System.Collections.Concurrent;
using MlNetConv.Core.Layers;

namespace MlNetConv.Core;

/// <summary>
/// A model's inference workspaces, rented by each predicting thread and returned after its call, kept per
/// (capacity, threads), so concurrent predictions never share buffers and steady-state prediction allocates nothing.
/// </summary>
internal sealed class InferenceWorkspaces(IReadOnlyList<Layer> layers)
{
    private readonly ConcurrentDictionary<(int Capacity, int Threads), ConcurrentBag<Workspace>> idle = new();

    public Workspace Rent(int capacity, int threads) =>
        idle.GetOrAdd((capacity, threads), static _ => []).TryTake(out Workspace? ws)
            ? ws
            : new Workspace(layers, capacity, parameterGradients: null, threads);

    public void Return(Workspace ws) => idle.GetOrAdd((ws.Capacity, ws.Threads), static _ => []).Add(ws);
}
