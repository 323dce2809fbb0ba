using BenchmarkDotNet.Running;
using MlNetConv.Benchmarks;

// `kernels [BenchmarkDotNet args]` runs the convolution benchmarks, the FMA peak they are a share of, the modern
// preset's normalization block, the Adam update and the matrix product alone;
// `e2e [options]` (the default) measures the textbook model end to end; `workers [--images N] [--batch B]` the
// batch-scoring worker's transports end to end; `convolutions [options]` other models' convolution layers, one by one.
// See the README's Performance section.
if (args.Length > 0 && args[0] == "kernels")
{
    BenchmarkSwitcher.FromTypes([typeof(Conv2DBenchmarks), typeof(NormalizationBenchmarks), typeof(OptimizerBenchmarks), typeof(GemmBenchmarks), typeof(FmaPeakBenchmarks)]).Run(args[1..]);
    return 0;
}
if (args.Length > 0 && args[0] == "convolutions") return ConvolutionSweep.Run(args[1..]);
if (args.Length > 0 && args[0] == "workers") return WorkerThroughput.Run(args[1..]);
return EndToEnd.Run(args.Length > 0 && args[0] == "e2e" ? args[1..] : args);
