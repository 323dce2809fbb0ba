using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Tests;

/// <summary>The worker pool's contract: every index exactly once per run, failures surface, idle helpers wake.</summary>
public class WorkerPoolTests
{
    private sealed class CountingWork(int size) : IParallelWork
    {
        public int[] Hits { get; } = new int[size];

        public int? FailAt { get; set; }

        public void Execute(int index)
        {
            Interlocked.Increment(ref Hits[index]);
            if (index == FailAt) throw new InvalidOperationException($"index {index} failed");
            Thread.SpinWait(50 * (index % 7)); // uneven work, so both threads take indices in varying order
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryIndexRunsExactlyOncePerRun(int threads)
    {
        var pool = WorkerPool.ForThreads(threads);
        for (int run = 0; run < 2000; run++)
        {
            int size = run % 37 + 1;
            var work = new CountingWork(size);
            pool.Run(work, size);
            Assert.All(work.Hits, hits => Assert.Equal(1, hits));
        }
    }

    [Fact]
    public void HelpersThatFellAsleepAreWokenByTheNextRun()
    {
        var pool = WorkerPool.ForThreads(2);
        for (int run = 0; run < 5; run++)
        {
            Thread.Sleep(30); // longer than the helpers' idle spin: they block on the semaphore
            var work = new CountingWork(64);
            pool.Run(work, 64);
            Assert.All(work.Hits, hits => Assert.Equal(1, hits));
        }
    }

    [Fact]
    public void AFailureSurfacesAndThePoolKeepsWorking()
    {
        var pool = WorkerPool.ForThreads(2);
        var failing = new CountingWork(100) { FailAt = 10 };
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(failing, 100));
        Assert.Equal("index 10 failed", error.Message);
        Assert.All(failing.Hits, hits => Assert.InRange(hits, 0, 1));

        var work = new CountingWork(100);
        pool.Run(work, 100);
        Assert.All(work.Hits, hits => Assert.Equal(1, hits));
    }

    [Fact]
    public async Task ConcurrentCallersBothFinishEveryIndex()
    {
        var pool = WorkerPool.ForThreads(2);
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int run = 0; run < 300; run++)
            {
                var work = new CountingWork(16);
                pool.Run(work, 16);
                Assert.All(work.Hits, hits => Assert.Equal(1, hits));
            }
        })).ToArray();
        await Task.WhenAll(tasks);
    }
}
