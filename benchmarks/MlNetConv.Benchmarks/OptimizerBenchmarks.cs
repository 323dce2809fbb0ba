using BenchmarkDotNet.Attributes;
using MlNetConv.Core;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;
using MlNetConv.Core.Training;

namespace MlNetConv.Benchmarks;

/// <summary>
/// One Adam update of the textbook model's 333,526 parameters (gradients, parameters and both moments read, three of
/// them written: 9.3 MB), on 1 and 2 threads, as training runs it. <see cref="Step"/> finds everything in the caches
/// (the floor); <see cref="EvictThenStep"/> first writes 16 MB elsewhere, as a training batch's activations do, and
/// <see cref="Evict"/> is that write alone, so the update from evicted caches is the difference of the two.
/// </summary>
public class OptimizerBenchmarks
{
    private const int EvictedBytes = 16 << 20;
    private readonly Adam adam = new();
    private float[] parameters = [], gradients = [];
    private WorkerPool pool = null!;
    private Work<float[]> evict = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var model = new Sequential(Shape.Image(1, 28, 28), Architectures.TextbookCnn());
        parameters = (float[])model.ParameterBuffer.Clone();
        var random = new Random(3);
        gradients = [.. Enumerable.Range(0, parameters.Length).Select(_ => ((float)random.NextDouble() - 0.5f) * 1e-2f)];
        adam.Prepare(parameters.Length);
        pool = WorkerPool.ForThreads(Threads);
        // Each thread writes every cache line of its share, as a layer writing its output would.
        float[] elsewhere = new float[EvictedBytes / sizeof(float)];
        evict = new Work<float[]>(elsewhere, (buffer, part) =>
        {
            int share = buffer.Length / Threads;
            Span<float> lines = buffer.AsSpan(part * share, share);
            for (int i = 0; i < lines.Length; i += 16) lines[i] += 1;
        });
    }

    [Benchmark]
    public void Step() => adam.Step(parameters, gradients, pool);

    [Benchmark]
    public void EvictThenStep()
    {
        pool.Run(evict, Threads);
        adam.Step(parameters, gradients, pool);
    }

    [Benchmark]
    public void Evict() => pool.Run(evict, Threads);
}
