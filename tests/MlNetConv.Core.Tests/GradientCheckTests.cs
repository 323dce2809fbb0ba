using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// Backward passes against central finite differences of L = Σ w·layer(x) for fixed random w. The engine computes in
/// float; the differences and L are accumulated in double, with a step large enough to rise above float rounding.
/// </summary>
public class GradientCheckTests
{
    private const double Step = 1e-2;
    private const double Tolerance = 2e-3;

    public static TheoryData<int, int, int, int, int, int, int, int, Padding, Activation> ConvCases() => new()
    {
        // channels, height, width, filters, kernel rows, kernel cols, stride rows, stride cols, padding, activation
        { 3, 5, 6, 4, 3, 3, 1, 1, Padding.Same, Activation.Linear },
        { 2, 7, 7, 3, 3, 3, 2, 2, Padding.Same, Activation.Linear },
        { 2, 6, 5, 2, 2, 3, 1, 2, Padding.Valid, Activation.Linear },
        { 1, 6, 6, 3, 4, 2, 2, 1, Padding.Same, Activation.Tanh },
        { 4, 5, 5, 5, 1, 1, 1, 1, Padding.Valid, Activation.Sigmoid },
        { 3, 6, 7, 2, 3, 2, 3, 2, Padding.Valid, Activation.Relu },
        // 3×3 stride 1 with ≥ 8 channels and filters: the Winograd path, odd sizes leaving partial tiles.
        { 9, 5, 6, 8, 3, 3, 1, 1, Padding.Same, Activation.Linear },
        { 8, 7, 5, 10, 3, 3, 1, 1, Padding.Valid, Activation.Tanh },
        { 17, 4, 3, 8, 3, 3, 1, 1, Padding.Same, Activation.Sigmoid },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D(int c, int h, int w, int filters, int kr, int kc, int sr, int sc, Padding padding, Activation activation) =>
        Check(new Conv2D(filters, (kr, kc), (sr, sc), padding, activation), Shape.Image(c, h, w), batch: 3, kinkFree: activation == Activation.Relu);

    [Theory]
    [InlineData(Activation.Linear)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Softmax)]
    public void Dense(Activation activation) =>
        Check(new Dense(7, activation), Shape.Vector(13), batch: 4, kinkFree: activation == Activation.Relu);

    [Theory]
    [InlineData(2, 2, Padding.Valid)]
    [InlineData(3, 2, Padding.Same)]
    [InlineData(2, 1, Padding.Same)]
    public void MaxPooling2D(int pool, int stride, Padding padding) =>
        Check(new MaxPooling2D(pool, stride, padding), Shape.Image(3, 7, 6), batch: 2, distinctInputs: true);

    [Theory]
    [InlineData(2, 2, Padding.Valid)]
    [InlineData(3, 2, Padding.Same)]
    public void AveragePooling2D(int pool, int stride, Padding padding) =>
        Check(new AveragePooling2D(pool, stride, padding), Shape.Image(2, 7, 6), batch: 2);

    [Fact]
    public void Flatten() => Check(new Flatten(), Shape.Image(2, 3, 4), batch: 2);

    [Fact]
    public void DropoutWithAFixedMask() => Check(new Dropout(0.4), Shape.Vector(20), batch: 3);

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Softmax)]
    public void ActivationLayer(Activation activation) =>
        Check(new ActivationLayer(activation), Shape.Vector(9), batch: 3, kinkFree: activation == Activation.Relu);

    [Fact]
    public void SoftmaxCrossEntropyFromLogits()
    {
        const int n = 4, classes = 5;
        float[] logits = TestData.Random(n * classes, 3, 3f);
        int[] labels = [0, 4, 2, 2];
        var gradient = new float[n * classes];
        SoftmaxCrossEntropy.FromLogits(logits, labels, classes, gradient);
        var scratch = new float[n * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits[i];
            logits[i] = (float)(saved + Step);
            double plus = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, scratch);
            logits[i] = (float)(saved - Step);
            double minus = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, scratch);
            logits[i] = saved;
            AssertGradient((plus - minus) / (2 * Step), gradient[i], $"dLogits[{i}]");
        }
    }

    [Fact]
    public void FusedSoftmaxLossGivesTheLogitGradient()
    {
        // FromProbabilities on softmax(z) must return the gradient with respect to z, and the same loss.
        const int n = 3, classes = 4;
        float[] logits = TestData.Random(n * classes, 5, 2f);
        int[] labels = [1, 3, 0];
        var probabilities = logits.ToArray();
        Activations.Softmax(probabilities, classes);
        var fromLogits = new float[n * classes];
        var fused = new float[n * classes];
        float lossA = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, fromLogits);
        float lossB = SoftmaxCrossEntropy.FromProbabilities(probabilities, labels, classes, fused);
        Assert.Equal(lossA, lossB, 5);
        TestData.AssertClose(fromLogits, fused, 1e-5f, "fused gradient");
    }

    [Fact]
    public void MaxPoolingTiesSendTheGradientToTheFirstMaximumOnly()
    {
        var harness = new LayerHarness(new MaxPooling2D(2), Shape.Image(1, 2, 4), batch: 1);
        harness.Forward([5, 5, 1, 2, 5, 5, 2, 2]);
        float[] dx = harness.Backward([3, 7]);
        Assert.Equal([3, 0, 0, 7, 0, 0, 0, 0], dx);
    }

    private static void Check(Layer layer, Shape input, int batch, bool kinkFree = false, bool distinctInputs = false)
    {
        var harness = new LayerHarness(layer, input, batch);
        float[] x = TestData.Random(batch * input.Size, 11);
        if (kinkFree) MoveAwayFromZero(x);
        if (distinctInputs) SpreadApart(x);
        float[] weights = TestData.Random(batch * layer.OutputShape.Size, 12);
        for (int i = 0; i < harness.Parameters.Length; i++) harness.Parameters[i] += 0.05f * ((i % 7) - 3); // non-zero biases too
        harness.Forward(x);
        float[] dx = harness.Backward(weights);
        float[] dParameters = harness.Gradients.ToArray();

        double Loss()
        {
            float[] y = harness.Forward(x);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)weights[i] * y[i];
            return sum;
        }

        for (int i = 0; i < x.Length; i++)
            AssertGradient(Difference(x, i, Loss, kinkFree), dx[i], $"{layer.TypeName} dX[{i}]");
        for (int i = 0; i < harness.Parameters.Length; i++)
            AssertGradient(Difference(harness.Parameters, i, Loss, kinkFree: false), dParameters[i], $"{layer.TypeName} dParameters[{i}]");
    }

    private static double Difference(float[] values, int index, Func<double> loss, bool kinkFree)
    {
        float saved = values[index];
        double step = kinkFree ? Math.Min(Step, Math.Abs(saved) / 2) : Step;
        values[index] = (float)(saved + step);
        double plus = loss();
        values[index] = (float)(saved - step);
        double minus = loss();
        values[index] = saved;
        return (plus - minus) / (2 * step);
    }

    // ReLU: inputs at least 0.1 from zero, and steps at most half an input's magnitude, keep the differences off the kink.
    private static void MoveAwayFromZero(float[] x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = x[i] >= 0 ? x[i] + 0.1f : x[i] - 0.1f;
    }

    // Max pooling: no two inputs within a few steps of each other, so a finite difference never changes the winner.
    private static void SpreadApart(float[] x)
    {
        int[] order = Enumerable.Range(0, x.Length).ToArray();
        new Random(13).Shuffle(order);
        for (int i = 0; i < x.Length; i++) x[i] = (order[i] - x.Length / 2) * (float)(5 * Step);
    }

    private static void AssertGradient(double numeric, float analytic, string what)
    {
        double limit = Tolerance * Math.Max(1, Math.Abs(numeric)) + 1e-4;
        if (!(Math.Abs(numeric - analytic) <= limit))
            Assert.Fail($"{what}: backward gives {analytic}, finite differences give {numeric:G6}.");
    }
}
