using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Kernels.Reference;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>BatchNormalization: Keras's statistics and moving averages, the kernel against the reference, saving, threads, bad settings.</summary>
public class BatchNormalizationTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 5)]
    [InlineData(3, 4, 17)]
    [InlineData(5, 2, 196)]
    [InlineData(32, 1, 1)]
    public void TheKernelEqualsTheReferenceOnThisSimdPath(int batch, int channels, int area)
    {
        float[] x = TestData.Random(batch * channels * area, batch * 100 + area, 3f);
        for (int i = 0; i < x.Length; i++) x[i] += 2; // an offset, so the variance is not the mean square
        float[] dy = TestData.Random(x.Length, 7);
        float[] gamma = TestData.Random(channels, 8), beta = TestData.Random(channels, 9);
        const float epsilon = 1e-3f;
        var (y, yRef) = (new float[x.Length], new float[x.Length]);
        var (mean, variance) = (new float[channels], new float[channels]);
        BatchNormReference.ForwardTraining(x, yRef, gamma, beta, mean, variance, batch, channels, area, epsilon);
        var (dx, dxRef) = (new float[x.Length], new float[x.Length]);
        var (dGamma, dBeta) = (new float[channels], new float[channels]);
        BatchNormReference.BackwardTraining(x, dy, dxRef, gamma, dGamma, dBeta, batch, channels, area, epsilon);
        for (int c = 0; c < channels; c++)
        {
            var (mu, var) = BatchNormKernels.Moments(x, batch, channels, area, c);
            Assert.Equal(mean[c], mu, 4);
            Assert.Equal(variance[c], var, 3);
            float inverse = (float)(1 / Math.Sqrt(var + epsilon)), scale = gamma[c] * inverse;
            BatchNormKernels.Normalize(x, y, batch, channels, area, c, scale, beta[c] - mu * scale);
            var (dg, db) = BatchNormKernels.Backward(x, dy, dx, batch, channels, area, c, mu, inverse, gamma[c], batchStatistics: true);
            Assert.Equal(dGamma[c], dg, 3);
            Assert.Equal(dBeta[c], db, 4);
        }
        TestData.AssertClose(yRef, y, 2e-4f, "y");
        TestData.AssertClose(dxRef, dx, 2e-3f, "dx");
    }

    // Lengths of one image's values of a channel: a tail alone, vector and tail, conv2's and conv1's areas.
    public static TheoryData<int> OnePassLengths() => new() { 1, 15, 37, 196, 784 };

    private static readonly SimdWidth[] Widths = [SimdWidth.Vector512, SimdWidth.Vector256, SimdWidth.Vector128, SimdWidth.Scalar];

    /// <summary>
    /// The input gradient's one pass, and a fused ReLU's gradient made from x, have the bits of the passes they replaced
    /// (the ReLU's output, its backward pass, then three TensorPrimitives passes), on every SIMD width and tail.
    /// </summary>
    [Theory]
    [MemberData(nameof(OnePassLengths))]
    public void TheInputGradientInOnePassHasTheBitsOfThePassesItReplaced(int length)
    {
        float[] x = TestData.Random(length, 31, 3f), dy = TestData.Random(length, 32);
        // x = 0.5 puts the ReLU's input x·0.5 − 0.25 at exactly 0 (no gradient); ±0 in x and dy give ±0 products and sums.
        for (int i = 1; i < length; i += 4) (x[i], dy[i]) = (i % 3 == 0 ? 0.5f : i % 3 == 1 ? -0f : 0f, i % 8 == 1 ? -0f : 0f);
        if (length > 2) (dy[2], x[length - 1]) = (float.NaN, float.NaN); // a NaN gradient; a NaN input takes none
        foreach (BatchNormKernels.ReluAfter? relu in new BatchNormKernels.ReluAfter?[] { null, new(0.5f, -0.25f) })
        {
            if (relu is { } kept)
                foreach (SimdWidth width in Widths)
                {
                    var (expected, actual) = (new float[length], new float[length]);
                    BatchNormReference.ReluGradient(x, dy, expected, kept);
                    BatchNormKernels.ReluGradient(x, dy, actual, kept, width);
                    Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), $"ReLU gradient, {width}, length {length}");
                }
            foreach (float k in new[] { 2.9f, -2.9f })
            {
                float[] expected = new float[length];
                BatchNormReference.InputGradient(x, dy, expected, -0.37f, k > 0 ? 1.3f : -0f, k, relu);
                foreach (SimdWidth width in Widths)
                {
                    var dx = new float[length];
                    BatchNormKernels.InputGradient(x, dy, dx, -0.37f, k > 0 ? 1.3f : -0f, k, relu, width);
                    Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(dx)), $"{width}, ReLU {relu is not null}, k {k}, length {length}");
                }
            }
        }
    }

    /// <summary>Normalizing (and a fused ReLU) in one pass has the bits of the passes it replaced, ±0 and NaN included.</summary>
    [Theory]
    [MemberData(nameof(OnePassLengths))]
    public void TheScaleAndShiftInOnePassHasTheBitsOfThePassesItReplaced(int length)
    {
        float[] x = TestData.Random(length, 41, 3f);
        // ±0.5 give y = 0 (0.5·0.5 against the shift ∓0.25), ±0 with a shift of −0 give y = ±0, and a NaN stays a NaN.
        for (int i = 0; i < length; i += 3) x[i] = (i / 3 % 5) switch { 0 => 0.5f, 1 => -0.5f, 2 => -0f, 3 => 0f, _ => float.NaN };
        foreach (bool relu in new[] { false, true })
            foreach (float shift in new[] { 0.25f, -0.25f, -0f })
            {
                var expected = new float[length];
                BatchNormReference.ScaleAndShift(x, expected, shift == 0.25f ? -0.5f : 0.5f, shift, relu);
                foreach (SimdWidth width in Widths)
                {
                    var y = new float[length];
                    BatchNormKernels.ScaleAndShift(x, y, shift == 0.25f ? -0.5f : 0.5f, shift, relu, width);
                    Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(y)), $"{width}, ReLU {relu}, shift {shift}, length {length}");
                }
            }
    }

    [Fact]
    public void TrainingMovesTheMovingStatisticsAndPredictionUsesThem()
    {
        var bn = new BatchNormalization(momentum: 0.75);
        bn.Build(Shape.Image(2, 1, 2));
        Assert.Equal([1, 1, 0, 0, 0, 0, 1, 1], bn.GetWeights()); // γ, β, moving mean, moving variance as Keras starts them
        // Channel 0 holds 1, 3, 5, 7 (mean 4, variance 5); channel 1 holds 2, 2, 4, 4 (mean 3, variance 1).
        float[] x = [1, 3, 2, 2, 5, 7, 4, 4];
        var y = new float[8];
        bn.Forward(x, y, batch: 2, training: true);
        Assert.Equal([0.25f * 4, 0.25f * 3], bn.MovingMean);                       // 0·0.75 + μ·0.25
        Assert.Equal([0.75f + 0.25f * 5, 0.75f + 0.25f * 1], bn.MovingVariance);   // 1·0.75 + σ²·0.25
        Assert.Equal((1 - 4) / MathF.Sqrt(5.001f), y[0], 5);                        // the batch's own statistics

        bn.Forward(x, y, batch: 2, training: false);                               // the moving ones
        Assert.Equal((1 - 1f) / MathF.Sqrt(2f + 0.001f), y[0], 5);
        Assert.Equal((7 - 1f) / MathF.Sqrt(2f + 0.001f), y[5], 5);
    }

    [Fact]
    public void TheSummaryCountsTheMovingStatisticsAsNonTrainableAndTheFileKeepsThem()
    {
        var model = new Sequential(FashionMnist.ImageShape,
        [
            new Conv2D(32, 3, padding: Padding.Same), new BatchNormalization(), new ActivationLayer(Activation.Relu),
            new GlobalAveragePooling2D(), new Dense(10, Activation.Softmax),
        ], seed: 4);
        string summary = model.Summary();
        Assert.Contains("batch_normalization (BatchNormalization)", summary);
        Assert.Matches(@"batch_normalization \(BatchNormalization\) +\(None, 32, 28, 28\) +128", summary);
        Assert.Contains("Total params: 778 (3.04 KB)", summary);       // 320 + 128 + 330
        Assert.Contains("Trainable params: 714 (2.79 KB)", summary);
        Assert.Contains("Non-trainable params: 64 (256.00 B)", summary);

        model.Fit(TestData.Train.Slice(0, 64), new FitOptions { Epochs = 1 });
        var bn = (BatchNormalization)model.Layers[1];
        Assert.NotEqual(new float[32], bn.MovingMean);
        var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        Sequential loaded = Sequential.Load(stream);
        Assert.Equal(bn.GetWeights(), loaded.Layers[1].GetWeights());
        float[] images = TestData.Test.SamplesToArray(0, 8);
        Assert.Equal(model.Predict(images), loaded.Predict(images));
    }

    [Fact]
    public void TrainingGivesTheSameBitsOnOneAndTwoThreads()
    {
        float[] Train(int threads)
        {
            var model = new Sequential(FashionMnist.ImageShape,
                [new Conv2D(8, 3, strides: 2), new BatchNormalization(), new ActivationLayer(Activation.Relu), new Flatten(),
                 new Dense(16), new BatchNormalization(), new Dense(10, Activation.Softmax)], seed: 6) { Threads = threads };
            model.Fit(TestData.Train.Slice(0, 96), new FitOptions { Epochs = 1 });
            return [.. model.Layers.SelectMany(l => l.GetWeights())];
        }
        Assert.Equal(Train(1), Train(2));
    }

    [Fact]
    public void BadSettingsNameTheLayerAndTheValue()
    {
        var error = Assert.Throws<ArgumentException>(() => new Sequential(FashionMnist.ImageShape, [new BatchNormalization(axis: 3, name: "bn")]));
        Assert.Contains("Layer 'bn' (BatchNormalization) cannot take input of shape (1, 28, 28): axis 3 is not the channel axis", error.Message);
        error = Assert.Throws<ArgumentException>(() => new Sequential(Shape.Vector(10), [new BatchNormalization(axis: 2, name: "bn2")]));
        Assert.Contains("axis 2 does not exist on a flat input", error.Message);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(momentum: 1)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(epsilon: 0)).ParamName);
    }
}
