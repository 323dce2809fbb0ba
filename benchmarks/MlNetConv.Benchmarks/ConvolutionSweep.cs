using System.Diagnostics;
using System.Globalization;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The convolutions users build besides the textbook's: colour inputs, deeper 3×3 stacks, valid padding, 5×5 windows,
/// stride 2, 1×1, a 7×7 stem. Each Conv2D layer (ReLU) is timed alone on the worker pool, in inference (forward) and
/// in training (forward, then backward with the weight, bias and input gradients), with GFLOP/s counted as the direct
/// convolution's 2·N·K·C·R·S·OH·OW per pass and shares of the FMA peak measured in the same run; with <c>--peer</c>
/// the TorchSharp peer (benchmarks/peers/torchsharp-convolutions) times the same layers, alternating with this process
/// round by round, and the ratios are printed. Slow spots show up here before they show up in someone's model.
/// </summary>
internal static class ConvolutionSweep
{
    /// <summary>One Conv2D: batch N of C×H×H images, K filters of R×R, stride, padding.</summary>
    public sealed record Case(string Name, int Batch, int Channels, int Size, int Filters, int Window, int Stride, Padding Padding)
    {
        public ConvShape Shape => ConvShape.Create(Channels, Size, Size, Filters, Window, Window, Stride, Stride, Padding);

        public double ForwardFlops => 2.0 * Batch * Shape.WeightCount * Shape.Window.OutputArea;

        /// <summary>The peer's argument: N,C,H,K,R,stride,padding.</summary>
        public string Spec => string.Join(',', Batch, Channels, Size, Filters, Window, Stride, Padding == Padding.Same ? "same" : "valid");
    }

    public static readonly Case[] Cases =
    [
        new("textbook conv1 1→32 28² 3×3", 32, 1, 28, 32, 3, 1, Padding.Same),
        new("textbook conv2 32→64 14² 3×3", 32, 32, 14, 64, 3, 1, Padding.Same),
        new("colour 3→32 32² 3×3", 32, 3, 32, 32, 3, 1, Padding.Same),
        new("32→32 32² 3×3", 32, 32, 32, 32, 3, 1, Padding.Same),
        new("64→64 16² 3×3", 32, 64, 16, 64, 3, 1, Padding.Same),
        new("128→128 8² 3×3", 32, 128, 8, 128, 3, 1, Padding.Same),
        new("32→64 26² 3×3 valid", 32, 32, 26, 64, 3, 1, Padding.Valid),
        new("1→32 28² 5×5", 32, 1, 28, 32, 5, 1, Padding.Same),
        new("32→64 14² 5×5", 32, 32, 14, 64, 5, 1, Padding.Same),
        new("32→64 32² 3×3 stride 2", 32, 32, 32, 64, 3, 2, Padding.Same),
        new("64→128 16² 3×3 stride 2", 32, 64, 16, 128, 3, 2, Padding.Same),
        new("64→128 16² 1×1", 32, 64, 16, 128, 1, 1, Padding.Same),
        new("stem 3→64 112² 7×7 stride 2, batch 8", 8, 3, 112, 64, 7, 2, Padding.Same),
        new("photo 3→32 224² 3×3, batch 8", 8, 3, 224, 32, 3, 1, Padding.Same),
    ];

    public static int Run(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string? peer = null, filter = null;
        int threads = Environment.ProcessorCount, rounds = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--peer": peer = Next(); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--filter": filter = Next(); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}\nusage: convolutions [--threads N] [--rounds N=3] [--filter TEXT] [--peer benchmarks/peers/torchsharp-convolutions/run.sh]");
                    return 2;
            }
        }
        Case[] cases = filter is null ? Cases : Cases.Where(c => c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToArray();
        Console.WriteLine($"CPU: {Machine.Processor()}, {Environment.ProcessorCount} processors; SIMD {Simd.Best}; threads {threads}");
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            Console.WriteLine("warning: no AVX-512 here; the FMA peak loop is AVX-512 code, emulated, so the shares of it mean nothing");
        var ours = cases.ToDictionary(c => c, _ => (Inference: new List<double>(), Training: new List<double>()));
        var theirs = cases.ToDictionary(c => c, _ => (Inference: new List<double>(), Training: new List<double>()));
        var peaks = new List<double>();
        for (int round = 1; round <= rounds; round++)
        {
            peaks.Add(PeakWork.Measure(threads));
            foreach (Case c in cases)
            {
                var (inference, training) = Time(c, threads);
                ours[c].Inference.Add(inference);
                ours[c].Training.Add(training);
                Console.WriteLine($"round {round}, MlNetConv: {c.Name}: inference {inference:F0} µs, training {training:F0} µs");
            }
            if (peer is null) continue;
            foreach (var (spec, inference, training) in RunPeer(peer, cases, threads))
            {
                Case c = cases.Single(x => x.Spec == spec);
                theirs[c].Inference.Add(inference);
                theirs[c].Training.Add(training);
                Console.WriteLine($"round {round}, TorchSharp: {c.Name}: inference {inference:F0} µs, training {training:F0} µs");
            }
        }

        double peak = EndToEnd.Median(peaks);
        Console.WriteLine($"\nFMA peak on {threads} threads (register-only loop, median of the {rounds} rounds): {peak:F1} GFLOP/s");
        Console.WriteLine("medians of the rounds; GFLOP/s counts the direct convolution's multiply-adds (training: forward + both backward products)");
        Console.WriteLine(peer is null
            ? "| layer | inference µs | GFLOP/s | share | training µs | GFLOP/s | share |\n| --- | --- | --- | --- | --- | --- | --- |"
            : "| layer | inference µs | share | TorchSharp µs | ratio | training µs | share | TorchSharp µs | ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (Case c in cases)
        {
            double inference = EndToEnd.Median(ours[c].Inference), training = EndToEnd.Median(ours[c].Training);
            double inferenceRate = c.ForwardFlops / inference / 1e3, trainingRate = 3 * c.ForwardFlops / training / 1e3;
            if (peer is null)
            {
                Console.WriteLine($"| {c.Name} | {inference:F0} | {inferenceRate:F1} | {inferenceRate / peak:P0} | {training:F0} | {trainingRate:F1} | {trainingRate / peak:P0} |");
                continue;
            }
            double peerInference = EndToEnd.Median(theirs[c].Inference), peerTraining = EndToEnd.Median(theirs[c].Training);
            Console.WriteLine($"| {c.Name} | {inference:F0} | {inferenceRate / peak:P0} | {peerInference:F0} | {peerInference / inference:F2}× | " +
                              $"{training:F0} | {trainingRate / peak:P0} | {peerTraining:F0} | {peerTraining / training:F2}× |");
        }
        if (peer is not null) Console.WriteLine("ratio: TorchSharp's time over MlNetConv's (above 1: MlNetConv is faster)");
        return 0;
    }

    /// <summary>Median µs of one inference forward pass and of one training step (forward, then backward) of the layer.</summary>
    private static (double Inference, double Training) Time(Case c, int threads)
    {
        var layer = new Conv2D(c.Filters, (c.Window, c.Window), (c.Stride, c.Stride), c.Padding, Activation.Relu);
        Shape input = Shape.Image(c.Channels, c.Size, c.Size);
        layer.Build(input, seed: 1);
        var random = new Random(2);
        float[] Fill(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var pool = WorkerPool.ForThreads(threads);
        int outputSize = c.Batch * layer.OutputShape.Size;
        var training = new LayerPass
        {
            Layer = layer, Input = Fill(c.Batch * input.Size), Output = new float[outputSize], OutputGradient = Fill(outputSize),
            InputGradient = new float[c.Batch * input.Size], ParameterGradients = new float[layer.ParameterCount],
            Buffers = layer.CreateBuffers(c.Batch, training: true, threads), Pool = pool, Batch = c.Batch, Training = true,
        };
        var inference = new LayerPass
        {
            Layer = layer, Input = training.Input, Output = new float[outputSize], Buffers = layer.CreateBuffers(c.Batch, training: false, threads),
            Pool = pool, Batch = c.Batch, Training = false,
        };
        // About 1.2 GFLOP of forward passes (5 to 200 repetitions) of each, interleaved so that a slow spell of the
        // machine hits both alike, after a warm-up of 40 passes or a second, whichever comes first. .NET compiles a
        // method first without optimizations and again, optimized, once it has been called 30 times: with two warm-up
        // passes, the code around the kernels of a layer with 5 repetitions stayed unoptimized through all the rounds
        // (a 5×5 layer over 32 channels: 4.2–6.3 ms in inference; 2.6–3.0 with this warm-up, in the same hour).
        int repetitions = Math.Clamp((int)(1.2e9 / c.ForwardFlops), 5, 200);
        var inferenceTimes = new List<double>();
        var trainingTimes = new List<double>();
        long warmUp = Stopwatch.GetTimestamp();
        for (int i = 0; i < 2 || (i < 40 && Stopwatch.GetElapsedTime(warmUp).TotalSeconds < 1); i++)
        {
            layer.ForwardPass(inference);
            layer.ForwardPass(training);
            layer.BackwardPass(training);
        }
        for (int i = 0; i < repetitions; i++)
        {
            long start = Stopwatch.GetTimestamp();
            layer.ForwardPass(inference);
            double inferenceTime = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            start = Stopwatch.GetTimestamp();
            layer.ForwardPass(training);
            layer.BackwardPass(training);
            double trainingTime = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            inferenceTimes.Add(inferenceTime);
            trainingTimes.Add(trainingTime);
        }
        return (EndToEnd.Median(inferenceTimes), EndToEnd.Median(trainingTimes));
    }

    // The peer prints "conv <spec> inference_us=<x> training_us=<y>" per layer.
    private static IEnumerable<(string Spec, double Inference, double Training)> RunPeer(string script, Case[] cases, int threads)
    {
        var start = new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        foreach (Case c in cases)
        {
            start.ArgumentList.Add("--conv");
            start.ArgumentList.Add(c.Spec);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {script}.");
        Task<string> errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"The peer exited with code {process.ExitCode}:\n{output}\n{errors.Result}");
        var results = new List<(string, double, double)>();
        foreach (string line in output.Split('\n'))
        {
            string[] parts = line.Trim().Split(' ');
            if (parts.Length != 4 || parts[0] != "conv") continue;
            if (!parts[2].StartsWith("inference_us=", StringComparison.Ordinal) || !parts[3].StartsWith("training_us=", StringComparison.Ordinal))
                throw new InvalidOperationException($"Unexpected line from the peer: {line}");
            results.Add((parts[1], double.Parse(parts[2]["inference_us=".Length..], CultureInfo.InvariantCulture),
                double.Parse(parts[3]["training_us=".Length..], CultureInfo.InvariantCulture)));
        }
        if (results.Count != cases.Length) throw new InvalidOperationException($"The peer timed {results.Count} of {cases.Length} layers:\n{output}");
        return results;
    }
}
