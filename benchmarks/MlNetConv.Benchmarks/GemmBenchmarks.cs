using BenchmarkDotNet.Attributes;
using MlNetConv.Core.Kernels;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The matrix product under every direct convolution, alone on one thread with its operands in cache: M filters × N
/// output positions, reduced over K = C·R·S. The im2col products of one image of the 5×5 layer over 32 channels at
/// 14×14 (N = 196 ends in 4 columns, which go in the lanes of A's rows as Conv2D gives it A transposed; 192 would not)
/// and of stride 2 over 64 channels at 16×16. Set beside those layers' shares of the peak in <c>convolutions</c>, it
/// tells the micro-kernel's part from what the layer adds to it.
/// </summary>
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private float[] a = [], aTransposed = [], b = [], c = [];
    private int m, n, k;

    [Params("64×196×800", "64×192×800", "128×64×576")]
    public string Product { get; set; } = "";

    /// <summary>2·M·N·K: a multiply and an add per term.</summary>
    public static double Flops(string product)
    {
        var (m, n, k) = Parse(product);
        return 2.0 * m * n * k;
    }

    private static (int M, int N, int K) Parse(string product)
    {
        int[] sizes = [.. product.Split('×').Select(int.Parse)];
        return (sizes[0], sizes[1], sizes[2]);
    }

    [GlobalSetup]
    public void Setup()
    {
        (m, n, k) = Parse(Product);
        var random = new Random(4);
        a = [.. Enumerable.Range(0, m * k).Select(_ => (float)random.NextDouble())];
        aTransposed = new float[m * k];
        Transpose.Matrix(a, m, k, k, aTransposed, m);
        b = [.. Enumerable.Range(0, k * n).Select(_ => (float)random.NextDouble())];
        c = new float[m * n];
    }

    [Benchmark]
    public void MultiplyNN() => Gemm.MultiplyNN(m, n, k, a, k, b, n, c, n, accumulate: false, default, aTransposed: aTransposed, ldaTransposed: m);
}
