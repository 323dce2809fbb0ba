using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels.Reference;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// A training step of the direct (im2col) convolution, whose weight gradient is taken transposed for long receptive
/// fields. Past 8 MB of columns a batch, the forward pass reads its columns from a padded image where it can and the
/// backward pass unfolds each block of dWᵀ's rows again, a block's rows of one image at a time, instead of keeping every
/// image's columns; below, it keeps them. Both held to the plain reference, and bit for bit to themselves on 1, 2 and 3
/// threads (other blocks of rows, other chunks of images).
/// </summary>
public class DirectConvolutionTrainingTests
{
    public static TheoryData<string> Cases => new(CaseShapes.Keys);

    // Input, layer, batch: the first three just past 8 MB of columns (recomputed), the last below (kept).
    private static readonly Dictionary<string, (Shape Input, Func<Conv2D> Layer, int Batch)> CaseShapes = new()
    {
        // Blocks of rows that start inside a channel's 25 rows, through shifted planes.
        ["5×5 over 32 channels, same, recomputed"] = (Shape.Image(32, 14, 14), () => new Conv2D(16, 5, padding: Padding.Same, activation: Activation.Relu), 14),
        ["3×3 stride 2 over 16 channels, same, through a padded image, recomputed"] = (Shape.Image(16, 40, 39), () => new Conv2D(12, 3, 2, Padding.Same), 37),
        ["7×7 stride 2 over 3 channels, same, a stem, recomputed"] = (Shape.Image(3, 96, 96), () => new Conv2D(16, 7, 2, Padding.Same, Activation.Relu), 7),
        ["4×2 valid, stride (1, 3), kept"] = (Shape.Image(6, 9, 13), () => new Conv2D(4, (4, 2), (1, 3), Padding.Valid, Activation.Tanh), 5),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchTheReferenceAndEveryThreadCount(string name)
    {
        var (input, make, batch) = CaseShapes[name];
        float[] x = TestData.Random(batch * input.Size, 1), dy = null!;
        int[]? reference = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            Conv2D layer = make();
            var harness = new LayerHarness(layer, input, batch, seed: 3, threads: threads);
            ConvShape s = layer.ConvShape;
            Assert.Equal(name.EndsWith("recomputed"), (long)batch * s.ColumnsSize * sizeof(float) > 8 << 20);
            dy ??= TestData.Random(batch * s.OutputSize, 2);
            float[] y = harness.Forward(x);
            // The activation's derivative from y, as the layer takes it, for the reference's dZ.
            float[] dz = dy.ToArray();
            layer.Activation.Backward(y, dz, dz, s.OutputSize);
            float[] dx = harness.Backward(dy);
            float[] expectedDx = new float[x.Length], expectedDw = new float[s.WeightCount], expectedDb = new float[s.Filters];
            for (int n = 0; n < batch; n++)
            {
                float[] dW = new float[s.WeightCount], dB = new float[s.Filters];
                Conv2DReference.BackwardWeights(x.AsSpan(n * s.InputSize, s.InputSize), dz.AsSpan(n * s.OutputSize, s.OutputSize), dW, dB, s);
                for (int i = 0; i < dW.Length; i++) expectedDw[i] += dW[i];
                for (int i = 0; i < dB.Length; i++) expectedDb[i] += dB[i];
                Conv2DReference.BackwardInput(dz.AsSpan(n * s.OutputSize, s.OutputSize), layer.Kernel, expectedDx.AsSpan(n * s.InputSize, s.InputSize), s);
            }
            string what = $"{name}, {threads} threads";
            TestData.AssertClose(expectedDx, dx, 1e-4f, "dX " + what);
            TestData.AssertClose(expectedDw, harness.Gradients.AsSpan(0, s.WeightCount).ToArray(), 1e-4f, "dW " + what);
            TestData.AssertClose(expectedDb, harness.Gradients.AsSpan(s.WeightCount).ToArray(), 1e-4f, "dB " + what);
            int[] bits = TestData.Bits([.. y, .. dx, .. harness.Gradients]);
            reference ??= bits;
            Assert.True(reference.AsSpan().SequenceEqual(bits), $"{what}: the step differs from 1 thread");
        }
    }

    // 64 filters over 14×14 positions (196: the last ones part of a register) keep their kernel transposed for the
    // forward product (Gemm.TakesColumnsInLanes). New weights must reach it: a model whose weights were set after it
    // predicted predicts what a model built with those weights does, bit for bit, in inference and in a training step.
    [Fact]
    public void TheKernelTransposedForTheLastPositionsFollowsNewWeights()
    {
        Layer[] Layers() => [new Conv2D(64, 5, padding: Padding.Same, activation: Activation.Relu), new Flatten(), new Dense(10)];
        Shape input = Shape.Image(3, 14, 14);
        var used = new Sequential(input, Layers(), seed: 1);
        var fresh = new Sequential(input, Layers(), seed: 2);
        float[] x = TestData.Random(5 * input.Size, 3);
        used.Predict(x);
        foreach (string layer in new[] { "conv2d", "dense" }) used.GetLayer(layer).SetWeights(fresh.GetLayer(layer).GetWeights());
        Assert.Equal(TestData.Bits(fresh.Predict(x)), TestData.Bits(used.Predict(x)));

        int[] labels = [1, 2, 3, 4, 5];
        float[] gradientsOfFresh = new float[fresh.ParameterCount], gradientsOfUsed = new float[used.ParameterCount];
        fresh.ComputeGradients(x, labels, gradientsOfFresh);
        used.ComputeGradients(x, labels, gradientsOfUsed);
        Assert.Equal(TestData.Bits(gradientsOfFresh), TestData.Bits(gradientsOfUsed));
    }
}
