namespace MlNetConv.Core.Threading;

/// <summary>
/// Binds a static body to the state it works on, once, so that running it per batch allocates nothing
/// (a lambda capturing locals would allocate at every call).
/// </summary>
internal sealed class Work<TState>(TState state, Action<TState, int> body) : IParallelWork
{
    public void Execute(int index) => body(state, index);
}
