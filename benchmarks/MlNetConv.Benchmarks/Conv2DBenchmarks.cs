using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The textbook model's two convolutions, batch 32, 3×3 same, ReLU: conv1 1→32 at 28×28 and conv2 32→64 at 14×14,
/// forward and backward, through the Conv2D layer on the worker pool. Backward is what the model runs: weights and
/// input for conv2, weights only for conv1 (the first layer's input gradient is never needed).
/// </summary>
[Config(typeof(GflopsConfig))]
public class Conv2DBenchmarks
{
    private const int Batch = 32;
    private LayerPass pass = null!;
    private Conv2D layer = null!;

    [Params("conv1 1→32 28×28", "conv2 32→64 14×14")]
    public string Layer { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (int channels, int size, int filters) = Layer.StartsWith("conv1", StringComparison.Ordinal) ? (1, 28, 32) : (32, 14, 64);
        layer = new Conv2D(filters, 3, padding: Padding.Same, activation: Activation.Relu);
        Shape input = Shape.Image(channels, size, size);
        layer.Build(input, seed: 1);
        var random = new Random(2);
        float[] Fill(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        pass = new LayerPass
        {
            Layer = layer,
            Input = Fill(Batch * input.Size),
            Output = new float[Batch * layer.OutputShape.Size],
            OutputGradient = Fill(Batch * layer.OutputShape.Size),
            InputGradient = channels == 1 ? null : new float[Batch * input.Size],
            ParameterGradients = new float[layer.ParameterCount],
            Buffers = layer.CreateBuffers(Batch, training: true, Threads),
            Pool = WorkerPool.ForThreads(Threads),
            Batch = Batch,
            Training = true,
        };
        layer.ForwardPass(pass);
    }

    /// <summary>2·N·K·C·R·S·OH·OW: one multiply-add per weight per output position.</summary>
    public static double ForwardFlops(string layerName) =>
        layerName.StartsWith("conv1", StringComparison.Ordinal) ? 2.0 * Batch * 32 * 1 * 9 * 28 * 28 : 2.0 * Batch * 64 * 32 * 9 * 14 * 14;

    [Benchmark]
    public void Forward() => layer.ForwardPass(pass);

    /// <summary>dW and dB (one product of the forward's size), and dX (another) except for the first layer.</summary>
    public static double BackwardFlops(string layerName) =>
        ForwardFlops(layerName) * (layerName.StartsWith("conv1", StringComparison.Ordinal) ? 1 : 2);

    [Benchmark]
    public void Backward() => layer.BackwardPass(pass);
}

/// <summary>Adds a GFLOP/s column computed from the mean time and the benchmark's arithmetic.</summary>
public sealed class GflopsConfig : BenchmarkDotNet.Configs.ManualConfig
{
    public GflopsConfig() => AddColumn(new GflopsColumn());

    private sealed class GflopsColumn : IColumn
    {
        public string Id => "GFLOPS";
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Billions of floating-point operations per second (multiply and add counted separately)";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats) return "-";
            Type type = benchmarkCase.Descriptor.Type;
            double flops = type == typeof(FmaPeakBenchmarks)
                ? PeakWork.Flops((int)benchmarkCase.Parameters["Threads"])
                : type == typeof(GemmBenchmarks)
                ? GemmBenchmarks.Flops((string)benchmarkCase.Parameters["Product"])
                : benchmarkCase.Descriptor.WorkloadMethod.Name == "Backward"
                    ? Conv2DBenchmarks.BackwardFlops((string)benchmarkCase.Parameters["Layer"])
                    : Conv2DBenchmarks.ForwardFlops((string)benchmarkCase.Parameters["Layer"]);
            return (flops / stats.Mean).ToString("F1"); // mean is in nanoseconds: flop/ns = GFLOP/s
        }

        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
