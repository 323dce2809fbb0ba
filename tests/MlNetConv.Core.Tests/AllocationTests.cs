using MlNetConv.Core.Data;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Allocation counts include every thread, so nothing else may run beside these tests.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    [Fact]
    public void SteadyStateTrainingAllocatesNothingPerBatch()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn()) { Threads = 2 };
        var optimizer = new Adam();
        float[] x = TestData.Train.SamplesToArray(0, 32);
        int[] y = TestData.Train.Labels.AsSpan(0, 32).ToArray();
        for (int i = 0; i < 3; i++) model.TrainOnBatch(x, y, optimizer); // buffers, JIT, worker threads

        // The training thread must allocate nothing at all. Process-wide counts also see the runtime's and the test
        // runner's own threads, whose allocations come with time, not with batches (on the scalar path a batch takes a
        // quarter of a second), so the worker threads are held to under 100 bytes per batch in the quietest of fifteen
        // short windows: a closure or buffer per parallel run would cost several hundred bytes per batch in every window.
        const int windows = 15, batchesPerWindow = 2;
        long onThisThread = 0, inProcess = long.MaxValue;
        for (int window = 0; window < windows; window++)
        {
            long thread = GC.GetAllocatedBytesForCurrentThread(), process = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < batchesPerWindow; i++) model.TrainOnBatch(x, y, optimizer);
            onThisThread += GC.GetAllocatedBytesForCurrentThread() - thread;
            inProcess = Math.Min(inProcess, GC.GetTotalAllocatedBytes(precise: true) - process);
        }
        Assert.True(onThisThread == 0, $"{windows * batchesPerWindow} training batches allocated {onThisThread} bytes on the training thread");
        Assert.True(inProcess < batchesPerWindow * 100, $"{batchesPerWindow} training batches allocated at least {inProcess} bytes in the process");
    }
}
