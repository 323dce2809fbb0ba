using System.Diagnostics;
using MlNetConv.Core.Data;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Allocation counts include every thread, so nothing else may run beside these tests.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    [Theory]
    [InlineData("textbook")]
    [InlineData("augmentation, batch normalization and global pooling")]
    public void SteadyStateTrainingAllocatesNothingPerBatch(string architecture)
    {
        Layers.Layer[] layers = architecture == "textbook"
            ? Architectures.TextbookCnn()
            :
            [
                new Layers.RandomFlip(Layers.FlipMode.Horizontal), new Layers.RandomTranslation(0.1, 0.1),
                new Layers.Conv2D(16, 3, padding: Geometry.Padding.Same), new Layers.BatchNormalization(), new Layers.ActivationLayer(Layers.Activation.Relu),
                new Layers.MaxPooling2D(2), new Layers.GlobalAveragePooling2D(), new Layers.Dense(32), new Layers.BatchNormalization(),
                new Layers.Dense(10, Layers.Activation.Softmax),
            ];
        var model = new Sequential(FashionMnist.ImageShape, layers) { Threads = 2 };
        var optimizer = new Adam();
        float[] x = TestData.Train.SamplesToArray(0, 32);
        int[] y = TestData.Train.Labels.AsSpan(0, 32).ToArray();
        for (int i = 0; i < 3; i++) model.TrainOnBatch(x, y, optimizer); // buffers, JIT, worker threads

        // The training thread must allocate nothing at all. Process-wide counts also see the test host's own threads,
        // which allocate with time, not with batches (about 1 KB/s under the test runner, measured: a scalar-path batch
        // takes a quarter of a second), so each window of training is followed by an idle window of the same length
        // and only what training allocates beyond that counts: under 100 bytes per batch in the quietest window. A
        // closure or buffer per parallel run would cost several hundred bytes per batch in every window.
        const int windows = 10, batchesPerWindow = 2;
        long onThisThread = 0, beyondIdle = long.MaxValue;
        for (int window = 0; window < windows; window++)
        {
            long thread = GC.GetAllocatedBytesForCurrentThread(), started = Stopwatch.GetTimestamp();
            long process = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < batchesPerWindow; i++) model.TrainOnBatch(x, y, optimizer);
            long training = GC.GetTotalAllocatedBytes(precise: true) - process;
            onThisThread += GC.GetAllocatedBytesForCurrentThread() - thread;
            TimeSpan length = Stopwatch.GetElapsedTime(started);
            process = GC.GetTotalAllocatedBytes(precise: true);
            Thread.Sleep(length);
            long idle = GC.GetTotalAllocatedBytes(precise: true) - process;
            beyondIdle = Math.Min(beyondIdle, training - idle);
        }
        Assert.True(onThisThread == 0, $"{windows * batchesPerWindow} training batches allocated {onThisThread} bytes on the training thread");
        Assert.True(beyondIdle < batchesPerWindow * 100,
            $"{batchesPerWindow} training batches allocated {beyondIdle} bytes in the process beyond what it allocates idle for as long");
    }
}
