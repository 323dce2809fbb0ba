using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace MlNetConv.Core.Threading;

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
/// The caller takes indices from the bottom and the helpers from the top, so that consecutive layers, which index
/// by image, mostly give an image to the same core: its activations stay in that core's cache (measured: conv1
/// forward and backward ran slower on two threads than on one when indices were dealt out in one sequence).
/// </summary>
/// <remarks>
/// Runs come every 50–500 µs during training, closer together than a sleeping thread wakes up (tens of µs
/// through the kernel), so an idle helper keeps watching for the next run for <see cref="IdleSpin"/>, yielding its
/// core to anyone who wants it, before it blocks; the caller never waits for a helper to wake, only for indices
/// already taken to finish.
/// </remarks>
internal sealed class WorkerPool
{
    private static readonly ConcurrentDictionary<int, WorkerPool> Shared = new();
    private static readonly long IdleSpin = Stopwatch.Frequency / 1000; // 1 ms

    private readonly SemaphoreSlim wake = new(0);
    private readonly Lock gate = new();
    private readonly int helperCount;
    private IParallelWork? work;
    private int run;

    // One word: the run's number (24 bits) and the indices not yet taken, [low, high) (20 bits each). Taking an
    // index is a compare-exchange on the whole word, so a helper that arrives late can never take an index of a
    // later run with the work of an earlier one.
    private long cursor;
    private int remaining; // indices of the current run not yet finished (or skipped after a failure)
    private int sleepers;  // helpers blocked on `wake`
    private ExceptionDispatchInfo? failure;

    private WorkerPool(int threads)
    {
        helperCount = threads - 1;
        for (int i = 0; i < helperCount; i++)
            new Thread(HelperLoop) { IsBackground = true, Name = $"MlNetConv worker {i + 1}/{helperCount}" }.Start();
    }

    /// <summary>The process-wide pool with the given number of threads (created on first use, then reused).</summary>
    public static WorkerPool ForThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1.");
        return Shared.GetOrAdd(threads, static t => new WorkerPool(t));
    }

    /// <summary>The most indices one run takes.</summary>
    public const int MaxIndices = (1 << IndexBits) - 1;

    private const int IndexBits = 20;
    private const long IndexMask = MaxIndices;

    /// <summary>Executes <paramref name="parallelWork"/> for indices 0..count-1 and returns when all are done.</summary>
    public void Run(IParallelWork parallelWork, int indexCount)
    {
        if (indexCount <= 0) return;
        if (indexCount > MaxIndices)
            throw new ArgumentOutOfRangeException(nameof(indexCount), indexCount, $"One parallel run takes at most {MaxIndices} indices.");
        if (helperCount == 0 || indexCount == 1 || !gate.TryEnter())
        {
            for (int i = 0; i < indexCount; i++) parallelWork.Execute(i);
            return;
        }
        try
        {
            work = parallelWork;
            failure = null;
            remaining = indexCount;
            int current = run = (run + 1) & RunMask;
            // A full fence: the helper that registers as a sleeper and then checks the cursor either sees this run or is counted below.
            Interlocked.Exchange(ref cursor, Pack(current, 0, indexCount));
            int asleep = Volatile.Read(ref sleepers);
            if (asleep > 0) wake.Release(Math.Min(asleep, indexCount - 1));
            Drain(current, fromTop: false);
            var spinner = new SpinWait();
            while (Volatile.Read(ref remaining) > 0) spinner.SpinOnce(sleep1Threshold: -1);
            work = null;
            failure?.Throw();
        }
        finally
        {
            gate.Exit();
        }
    }

    private const int RunMask = (1 << (64 - 2 * IndexBits - 1)) - 1;

    private static long Pack(int run, int low, int high) => ((long)run << (2 * IndexBits)) | ((long)low << IndexBits) | (uint)high;

    private static int RunOf(long state) => (int)(state >> (2 * IndexBits));

    private void Drain(int current, bool fromTop)
    {
        while (true)
        {
            long state = Volatile.Read(ref cursor);
            if (RunOf(state) != current) return;
            // Read after seeing the run: if the exchange below succeeds, no later run has started, so this is the run's work.
            IParallelWork? body = work;
            int low = (int)((state >> IndexBits) & IndexMask), high = (int)(state & IndexMask);
            if (low >= high) return;
            int index = fromTop ? high - 1 : low;
            long taken = fromTop ? Pack(current, low, high - 1) : Pack(current, low + 1, high);
            if (Interlocked.CompareExchange(ref cursor, taken, state) != state) continue;
            try
            {
                body!.Execute(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                StopHandingOut(current);
            }
            Interlocked.Decrement(ref remaining);
        }
    }

    // After a failure no further index starts; the skipped ones count as finished.
    private void StopHandingOut(int current)
    {
        while (true)
        {
            long state = Volatile.Read(ref cursor);
            int low = (int)((state >> IndexBits) & IndexMask), high = (int)(state & IndexMask);
            if (RunOf(state) != current || low >= high) return;
            if (Interlocked.CompareExchange(ref cursor, Pack(current, high, high), state) == state)
            {
                Interlocked.Add(ref remaining, -(high - low));
                return;
            }
        }
    }

    private void HelperLoop()
    {
        int seen = 0;
        while (true)
        {
            seen = WaitForRun(seen);
            Drain(seen, fromTop: true);
        }
    }

    // Returns the number of a run newer than `seen`: spinning (and yielding) for a while, then blocked on the semaphore.
    private int WaitForRun(int seen)
    {
        var spinner = new SpinWait();
        long spinUntil = Stopwatch.GetTimestamp() + IdleSpin;
        while (Stopwatch.GetTimestamp() < spinUntil)
        {
            if (CurrentRun() != seen) return CurrentRun();
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        while (true)
        {
            Interlocked.Increment(ref sleepers);
            if (CurrentRun() == seen) wake.Wait();
            Interlocked.Decrement(ref sleepers);
            // A release meant for an earlier run (its helper found the run by itself) wakes this one for nothing: wait again.
            if (CurrentRun() != seen) return CurrentRun();
        }
    }

    private int CurrentRun() => RunOf(Volatile.Read(ref cursor));
}
