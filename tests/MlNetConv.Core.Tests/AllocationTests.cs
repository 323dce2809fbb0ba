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
        // runner's own threads, so the worker threads are held to under 100 bytes per batch in the quietest of five
        // windows: a closure or buffer per parallel run would cost several hundred bytes per batch in every window.
        long onThisThread = 0, inProcess = long.MaxValue;
        for (int window = 0; window < 5; window++)
        {
            long thread = GC.GetAllocatedBytesForCurrentThread(), process = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 20; i++) model.TrainOnBatch(x, y, optimizer);
            onThisThread += GC.GetAllocatedBytesForCurrentThread() - thread;
            inProcess = Math.Min(inProcess, GC.GetTotalAllocatedBytes(precise: true) - process);
        }
        Assert.True(onThisThread == 0, $"100 training batches allocated {onThisThread} bytes on the training thread");
        Assert.True(inProcess < 20 * 100, $"20 training batches allocated at least {inProcess} bytes in the process");
    }
}
