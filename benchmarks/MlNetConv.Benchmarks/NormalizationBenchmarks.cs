using BenchmarkDotNet.Attributes;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The modern preset's first block after its convolution, in training: BatchNormalization then ReLU on conv1's output
/// (batch 32, 32 channels, 28×28), 2 threads, either as the model runs it (the normalization computing the ReLU:
/// <see cref="LayerPass.Fused"/>) or as two layers, each its own pass over the batch. The same bits either way.
/// </summary>
public class NormalizationBenchmarks
{
    private const int Batch = 32;
    private BatchNormalization normalization = null!;
    private ActivationLayer relu = null!;
    private LayerPass normalizationPass = null!, reluPass = null!;

    [Params("fused", "separate")]
    public string Layers { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        Shape shape = Shape.Image(32, 28, 28);
        normalization = new BatchNormalization();
        normalization.Build(shape);
        relu = new ActivationLayer(Activation.Relu);
        relu.Build(shape);
        var random = new Random(2);
        float[] Fill() => Enumerable.Range(0, Batch * shape.Size).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var pool = WorkerPool.ForThreads(2);
        reluPass = new LayerPass
        {
            Layer = relu, Input = new float[Batch * shape.Size], Output = new float[Batch * shape.Size], OutputGradient = Fill(),
            InputGradient = new float[Batch * shape.Size], Buffers = relu.CreateBuffers(Batch, training: true, 2), Pool = pool,
            Batch = Batch, Training = true,
        };
        normalizationPass = new LayerPass
        {
            Layer = normalization, Input = Fill(), Output = reluPass.Input, OutputGradient = reluPass.InputGradient,
            InputGradient = new float[Batch * shape.Size], ParameterGradients = new float[normalization.ParameterCount],
            Buffers = normalization.CreateBuffers(Batch, training: true, 2), Pool = pool, Batch = Batch, Training = true,
            Fused = Layers == "fused" ? reluPass : null,
        };
        Forward();
    }

    [Benchmark]
    public void Forward()
    {
        normalization.ForwardPass(normalizationPass);
        if (normalizationPass.Fused is null) relu.ForwardPass(reluPass);
    }

    [Benchmark]
    public void Backward()
    {
        if (normalizationPass.Fused is null) relu.BackwardPass(reluPass);
        normalization.BackwardPass(normalizationPass);
    }
}
