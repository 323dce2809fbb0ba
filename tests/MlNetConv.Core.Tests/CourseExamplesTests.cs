using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Kernels.Reference;
using MlNetConv.Core.Layers;

namespace MlNetConv.Core.Tests;

/// <summary>The worked examples of the course, exactly.</summary>
public class CourseExamplesTests
{
    private static readonly float[,] Input = { { 1, 6, 2 }, { 5, 3, 1 }, { 7, 0, 4 } };
    private static readonly float[,] Kernel = { { 1, 2 }, { -1, 0 } };

    [Fact]
    public void ValidCrossCorrelation()
    {
        Assert.Equal(new float[,] { { 8, 7 }, { 4, 5 } }, CrossCorrelation.Correlate(Input, Kernel, Padding.Valid));
    }

    [Fact]
    public void FullCrossCorrelation()
    {
        Assert.Equal(new float[,] { { 0, -1, -6, -2 }, { 2, 8, 7, 1 }, { 10, 4, 5, -3 }, { 14, 7, 8, 4 } },
            CrossCorrelation.Correlate(Input, Kernel, Padding.Full));
    }

    [Fact]
    public void SameCrossCorrelationPadsBottomRightForAnEvenKernel()
    {
        // Keras: total padding 1, none before, one after; so the first row and column match valid.
        Assert.Equal(new float[,] { { 8, 7, 1 }, { 4, 5, -3 }, { 7, 8, 4 } }, CrossCorrelation.Correlate(Input, Kernel, Padding.Same));
    }

    [Theory]
    [InlineData(Padding.Valid)]
    [InlineData(Padding.Same)]
    [InlineData(Padding.Full)]
    public void ConvolutionIsCrossCorrelationWithTheKernelRotated(Padding padding)
    {
        Assert.Equal(new float[,] { { 0, -1 }, { 2, 1 } }, CrossCorrelation.Rotate180(Kernel));
        Assert.Equal(CrossCorrelation.Correlate(Input, CrossCorrelation.Rotate180(Kernel), padding), CrossCorrelation.Convolve(Input, Kernel, padding));
        // Worked by hand: valid convolution of the course input with the course kernel.
        if (padding == Padding.Valid) Assert.Equal(new float[,] { { 7, 5 }, { 11, 3 } }, CrossCorrelation.Convolve(Input, Kernel, padding));
    }

    [Fact]
    public void Conv2DBackwardFollowsTheCourseFormulas()
    {
        // One input channel, one filter, stride 1, valid: dK = X ★ dY, dB = Σ dY, dX = dY ★full rot180(K).
        var shape = ConvShape.Create(1, 3, 3, 1, 2, 2, 1, 1, Padding.Valid);
        float[] x = Flat(Input), k = Flat(Kernel), dy = [1, -2, 3, 0.5f];
        var dK = new float[4];
        var dB = new float[1];
        var dX = new float[9];
        Conv2DReference.BackwardWeights(x, dy, dK, dB, shape);
        Conv2DReference.BackwardInput(dy, k, dX, shape);
        float[,] dyMatrix = { { 1, -2 }, { 3, 0.5f } };
        Assert.Equal(Flat(CrossCorrelation.Correlate(Input, dyMatrix, Padding.Valid)), dK);
        Assert.Equal(2.5f, dB[0]);
        Assert.Equal(Flat(CrossCorrelation.Correlate(dyMatrix, CrossCorrelation.Rotate180(Kernel), Padding.Full)), dX);
    }

    [Fact]
    public void MultiChannelForwardIsTheSumOfPerChannelCorrelationsPlusBias()
    {
        // Y_i = B_i + Σ_j X_j ★ K_ij with 2 input channels and 3 filters, same padding.
        var shape = ConvShape.Create(2, 5, 4, 3, 3, 3, 1, 1, Padding.Same);
        float[] x = TestData.Random(shape.InputSize, 1), w = TestData.Random(shape.WeightCount, 2), b = [0.5f, -1, 2];
        var y = new float[shape.OutputSize];
        Conv2DReference.Forward(x, w, b, y, shape);
        for (int i = 0; i < 3; i++)
        {
            var expected = new float[20];
            for (int j = 0; j < 2; j++)
            {
                var part = new float[20];
                CrossCorrelation.Correlate(x.AsSpan(j * 20, 20), w.AsSpan((i * 2 + j) * 9, 9), shape.Window, part);
                for (int o = 0; o < 20; o++) expected[o] += part[o];
            }
            for (int o = 0; o < 20; o++) expected[o] += b[i];
            TestData.AssertClose(expected, y.AsSpan(i * 20, 20), 1e-6f, $"filter {i}");
        }
    }

    [Fact]
    public void TextbookModelHasTheTextbookParameterCounts()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        Assert.Equal([320, 0, 18_496, 0, 0, 313_700, 0, 1_010], model.Layers.Select(l => l.ParameterCount));
        Assert.Equal(333_526, model.ParameterCount);
        Assert.Equal(320, new Sequential(FashionMnist.ImageShape, [new Conv2D(32, 3)]).ParameterCount);
        string summary = model.Summary();
        Assert.Contains("conv2d (Conv2D)", summary);
        Assert.Contains("max_pooling2d_1 (MaxPooling2D)", summary);
        Assert.Contains("(None, 64, 7, 7)", summary);
        Assert.Contains("Total params: 333,526 (1.27 MB)", summary);
    }

    [Fact]
    public void SummaryRowsStayAlignedWithALongLayerName()
    {
        var model = new Sequential(FashionMnist.ImageShape, [new AveragePooling2D(2), new Flatten(), new Dense(10, Activation.Softmax)]);
        string[] rows = model.Summary().Split('\n').Where(l => l.Contains("(None,")).ToArray();
        Assert.Contains(" average_pooling2d (AveragePooling2D)  (None, 1, 14, 14)", rows[0]);
        Assert.Single(rows.Select(r => r.TrimEnd().Length).Distinct()); // the parameter counts end in one column
    }

    private static float[] Flat(float[,] m) => m.Cast<float>().ToArray();
}
