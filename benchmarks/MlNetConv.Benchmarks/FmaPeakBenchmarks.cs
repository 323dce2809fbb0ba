using System.Diagnostics;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using MlNetConv.Core.Threading;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The machine's measured FP32 peak: independent AVX-512 FMA chains on registers only (enough of them to keep both
/// FMA pipes busy through their latency), on one core and on both, the denominator of the kernels' share of peak.
/// </summary>
[Config(typeof(GflopsConfig))]
public class FmaPeakBenchmarks
{
    private PeakWork work = null!;
    private WorkerPool pool = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        pool = WorkerPool.ForThreads(Threads);
        work = new PeakWork();
    }

    [Benchmark]
    public float FmaPeak()
    {
        pool.Run(work, Threads);
        return work.Sink;
    }
}

/// <summary>The register-only FMA loop of <see cref="FmaPeakBenchmarks"/>, which the <c>convolutions</c> command also times directly.</summary>
internal sealed class PeakWork : IParallelWork
{
    private const int Iterations = 1 << 20;
    private const int Chains = 16;
    public float Sink;

    /// <summary>Iterations × chains × 16 lanes × 2 (multiply and add) per thread.</summary>
    public static double Flops(int threads) => 2.0 * Iterations * Chains * Vector512<float>.Count * threads;

    /// <summary>GFLOP/s on <paramref name="threads"/> threads: the fastest of <paramref name="runs"/> timed runs after a warm-up.</summary>
    public static double Measure(int threads, int runs = 20)
    {
        var pool = WorkerPool.ForThreads(threads);
        var work = new PeakWork();
        pool.Run(work, threads);
        double fastest = double.MaxValue;
        for (int run = 0; run < runs; run++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(work, threads);
            fastest = Math.Min(fastest, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return Flops(threads) / fastest / 1e9;
    }

    public void Execute(int index)
    {
        Vector512<float> a = Vector512.Create(0.999f), b = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create((float)index), c1 = c0 + b, c2 = c1 + b, c3 = c2 + b, c4 = c3 + b, c5 = c4 + b, c6 = c5 + b, c7 = c6 + b;
        Vector512<float> c8 = c7 + b, c9 = c8 + b, c10 = c9 + b, c11 = c10 + b, c12 = c11 + b, c13 = c12 + b, c14 = c13 + b, c15 = c14 + b;
        for (int i = 0; i < Iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b); c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b); c9 = Vector512.FusedMultiplyAdd(c9, a, b);
            c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
            c12 = Vector512.FusedMultiplyAdd(c12, a, b); c13 = Vector512.FusedMultiplyAdd(c13, a, b);
            c14 = Vector512.FusedMultiplyAdd(c14, a, b); c15 = Vector512.FusedMultiplyAdd(c15, a, b);
        }
        Sink = Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15);
    }
}
