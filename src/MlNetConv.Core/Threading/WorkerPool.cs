using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace MlNetConv.Threading;

/// <summary>One unit of index-parallel work: <see cref="Execute"/> is called once for every index in 0..count-1.</summary>
internal interface IParallelWork
{
    void Execute(int index);
}

/// <summary>
/// Runs index-parallel work on dedicated background threads plus the caller, without allocating per run
/// (the training loop calls it a dozen times per batch). Indices are handed out dynamically, so work must
/// not depend on which thread runs an index; every result in the engine is a function of its index alone,
/// which is what keeps results identical for any thread count.
/// A run that finds the pool busy (another thread is predicting) runs its indices inline instead of waiting.
/// </summary>
internal sealed class WorkerPool
{
    private static readonly ConcurrentDictionary<int, WorkerPool> Shared = new();

    private readonly SemaphoreSlim wake = new(0);
    private readonly ManualResetEventSlim finished = new(false);
    private readonly Lock gate = new();
    private readonly int helperCount;
    private IParallelWork? work;
    private int count;
    private int next;
    private int helpersRunning;
    private ExceptionDispatchInfo? failure;

    private WorkerPool(int threads)
    {
        Threads = threads;
        helperCount = threads - 1;
        for (int i = 0; i < helperCount; i++)
            new Thread(HelperLoop) { IsBackground = true, Name = $"MlNetConv worker {i + 1}/{helperCount}" }.Start();
    }

    /// <summary>Threads that execute work, the caller included.</summary>
    public int Threads { get; }

    /// <summary>The process-wide pool with the given number of threads (created on first use, then reused).</summary>
    public static WorkerPool ForThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1.");
        return Shared.GetOrAdd(threads, static t => new WorkerPool(t));
    }

    /// <summary>Executes <paramref name="parallelWork"/> for indices 0..count-1 and returns when all are done.</summary>
    public void Run(IParallelWork parallelWork, int indexCount)
    {
        if (indexCount <= 0) return;
        if (helperCount == 0 || indexCount == 1 || !gate.TryEnter())
        {
            for (int i = 0; i < indexCount; i++) parallelWork.Execute(i);
            return;
        }
        try
        {
            work = parallelWork;
            count = indexCount;
            next = -1;
            failure = null;
            int helpers = Math.Min(helperCount, indexCount - 1);
            helpersRunning = helpers;
            finished.Reset();
            wake.Release(helpers);
            Drain();
            finished.Wait();
            work = null;
            failure?.Throw();
        }
        finally
        {
            gate.Exit();
        }
    }

    private void Drain()
    {
        IParallelWork current = work!;
        int index;
        while ((index = Interlocked.Increment(ref next)) < count)
        {
            try
            {
                current.Execute(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref next, count); // stop handing out further indices
            }
        }
    }

    private void HelperLoop()
    {
        while (true)
        {
            wake.Wait();
            Drain();
            if (Interlocked.Decrement(ref helpersRunning) == 0) finished.Set();
        }
    }
}
