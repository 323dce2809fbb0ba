using MlNetConv.Data;
using MlNetConv.Training;

namespace MlNetConv.Tests;

/// <summary>Allocation counts are process-wide, so nothing else may run beside these tests.</summary>
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
        float[] x = TestData.Train.Features.AsSpan(0, 32 * 784).ToArray();
        int[] y = TestData.Train.Labels.AsSpan(0, 32).ToArray();
        for (int i = 0; i < 3; i++) model.TrainOnBatch(x, y, optimizer); // buffers, JIT, worker threads
        // Process-wide counts also see the test runner's own threads, so take the quietest of several windows:
        // an allocation in the training step would show in every one of them.
        long allocated = long.MaxValue;
        for (int window = 0; window < 5 && allocated > 0; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 10; i++) model.TrainOnBatch(x, y, optimizer);
            allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.True(allocated == 0, $"10 training batches allocated {allocated} bytes");
    }

}
