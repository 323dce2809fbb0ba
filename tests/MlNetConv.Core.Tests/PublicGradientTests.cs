using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>The course's gradients through the public API: a layer's Forward/Backward tape and a model's ComputeGradients.</summary>
public class PublicGradientTests
{
    private static readonly float[,] Input = { { 1, 6, 2 }, { 5, 3, 1 }, { 7, 0, 4 } };
    private static readonly float[,] Kernel = { { 1, 2 }, { -1, 0 } };
    private static readonly float[,] OutputGradient = { { 1, -2 }, { 3, 0.5f } };

    [Fact]
    public void Conv2DPublicBackwardOnTheCourseExampleEqualsTheCourseFormulas()
    {
        var conv = new Conv2D(1, 2);
        conv.Build(Shape.Image(1, 3, 3));
        conv.SetWeights([.. Flat(Kernel), 0.25f]);
        var y = new float[4];
        LayerTape tape = conv.Forward(Flat(Input), y, batch: 1);
        // Y = B + X ★ K.
        Assert.Equal(Flat(CrossCorrelation.Correlate(Input, Kernel, Padding.Valid)).Select(v => v + 0.25f), y);

        var dx = new float[9];
        var dParameters = new float[5];
        tape.Backward(Flat(OutputGradient), dx, dParameters);
        Assert.Equal(Flat(CrossCorrelation.Correlate(Input, OutputGradient, Padding.Valid)), dParameters[..4]);          // dK = X ★ dY
        Assert.Equal(1 - 2 + 3 + 0.5f, dParameters[4]);                                                                // dB = Σ dY
        Assert.Equal(Flat(CrossCorrelation.Correlate(OutputGradient, CrossCorrelation.Rotate180(Kernel), Padding.Full)), dx); // dX = dY ★full rot180(K)
        // The hand-worked numbers, so the test does not rest on CrossCorrelation alone: dK[0,0] = 1·1 − 2·6 + 3·5 + 0.5·3.
        Assert.Equal(5.5f, dParameters[0]);
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void EveryLayerTapeMatchesFiniteDifferences(string what, Func<Layer> create, Shape input, int batch)
    {
        Layer layer = create();
        layer.Build(input, seed: 3);
        if (layer.ParameterCount > 0)
            layer.SetWeights(layer.GetWeights().Select((w, i) => w + 0.05f * (i % 7 - 3)).ToArray()); // non-zero biases too
        float[] x = TestData.Random(batch * input.Size, 21);
        for (int i = 0; i < x.Length; i++) x[i] = (i * 37 % x.Length - x.Length / 2) * 0.02f + (x[i] >= 0 ? 0.1f : -0.1f); // distinct, off ReLU's kink
        float[] dy = TestData.Random(batch * layer.OutputShape.Size, 22);
        var y = new float[dy.Length];
        LayerTape tape = layer.Forward(x, y, batch, training: true, seed: 5);
        Assert.True(tape.Training && tape.Batch == batch && tape.Output.SequenceEqual(y));
        var dx = new float[x.Length];
        var dParameters = new float[layer.ParameterCount];
        tape.Backward(dy, dx, dParameters);

        // L = Σ dY·Y, in training mode with the same dropout seed, so its gradient is what Backward returns.
        double Loss(float[] input)
        {
            var output = new float[dy.Length];
            layer.Forward(input, output, batch, training: true, seed: 5);
            return output.Select((v, i) => (double)v * dy[i]).Sum();
        }

        const double step = 1e-3;
        for (int i = 0; i < x.Length; i++)
        {
            float saved = x[i];
            x[i] = (float)(saved + step);
            double plus = Loss(x);
            x[i] = (float)(saved - step);
            double minus = Loss(x);
            x[i] = saved;
            AssertNear((plus - minus) / (2 * step), dx[i], $"{what} dX[{i}]");
        }
        float[] weights = layer.GetWeights();
        for (int i = 0; i < layer.ParameterCount; i++)
        {
            float saved = weights[i];
            weights[i] = (float)(saved + step);
            layer.SetWeights(weights);
            double plus = Loss(x);
            weights[i] = (float)(saved - step);
            layer.SetWeights(weights);
            double minus = Loss(x);
            weights[i] = saved;
            layer.SetWeights(weights);
            AssertNear((plus - minus) / (2 * step), dParameters[i], $"{what} dParameters[{i}]");
        }
    }

    public static TheoryData<string, Func<Layer>, Shape, int> Layers() => new()
    {
        { "Conv2D same stride 2", () => new Conv2D(3, (3, 2), (2, 1), Padding.Same, Activation.Tanh), Shape.Image(2, 5, 4), 2 },
        { "Conv2D valid relu", () => new Conv2D(2, 3, activation: Activation.Relu), Shape.Image(1, 5, 5), 3 },
        { "MaxPooling2D", () => new MaxPooling2D(2), Shape.Image(2, 5, 4), 2 },
        { "AveragePooling2D same", () => new AveragePooling2D(3, 2, Padding.Same), Shape.Image(1, 5, 5), 2 },
        { "Flatten", () => new Flatten(), Shape.Image(2, 2, 3), 2 },
        { "Dense sigmoid", () => new Dense(4, Activation.Sigmoid), Shape.Vector(7), 3 },
        { "Dense softmax", () => new Dense(3, Activation.Softmax), Shape.Vector(5), 2 },
        { "Dropout", () => new Dropout(0.5), Shape.Vector(12), 2 },
        { "Activation softmax", () => new ActivationLayer(Activation.Softmax), Shape.Vector(6), 2 },
        { "GlobalAveragePooling2D", () => new GlobalAveragePooling2D(), Shape.Image(3, 4, 5), 2 },
        { "GlobalMaxPooling2D", () => new GlobalMaxPooling2D(), Shape.Image(3, 3, 5), 2 },
        { "BatchNormalization on images", () => new BatchNormalization(), Shape.Image(3, 4, 5), 3 },
        { "RandomFlip", () => new RandomFlip(), Shape.Image(2, 3, 4), 4 },
        { "RandomTranslation", () => new RandomTranslation(0.3, 0.4), Shape.Image(2, 5, 4), 3 },
        { "BatchNormalization on features", () => new BatchNormalization(axis: -1, momentum: 0.5), Shape.Vector(6), 4 },
        { "BatchNormalization without scale", () => new BatchNormalization(scale: false), Shape.Image(2, 3, 1), 5 },
        { "BatchNormalization without center", () => new BatchNormalization(center: false), Shape.Image(2, 1, 3), 2 },
    };

    [Fact]
    public void InferenceModeTapeOfDropoutIsTheIdentityBothWays()
    {
        var dropout = new Dropout(0.5);
        dropout.Build(Shape.Vector(8));
        float[] x = TestData.Random(8, 1), dy = TestData.Random(8, 2);
        var y = new float[8];
        var dx = new float[8];
        dropout.Forward(x, y, batch: 1).Backward(dy, dx, []);
        Assert.Equal(x, y);
        Assert.Equal(dy, dx);
    }

    [Fact]
    public void ModelGradientsMatchFiniteDifferencesOfTheLoss()
    {
        var model = new Sequential(Shape.Image(1, 6, 6),
        [
            new Conv2D(2, 3, padding: Padding.Same, activation: Activation.Tanh),
            new AveragePooling2D(2),
            new Flatten(),
            new Dense(3, Activation.Softmax),
        ], seed: 4);
        float[] x = TestData.Random(3 * 36, 8);
        int[] labels = [2, 0, 1];
        ModelGradients gradients = model.ComputeGradients(x, labels);
        Assert.Equal(model.ParameterCount, gradients.Values.Length);
        Assert.Equal(gradients.Values.AsMemory(0, 20).ToArray(), gradients.Of("conv2d").ToArray());

        int offset = 0;
        foreach (Layer layer in model.Layers)
        {
            float[] weights = layer.GetWeights();
            for (int i = 0; i < layer.ParameterCount; i++)
            {
                float saved = weights[i];
                weights[i] = saved + 1e-3f;
                layer.SetWeights(weights);
                double plus = model.ComputeGradients(x, labels).Loss;
                weights[i] = saved - 1e-3f;
                layer.SetWeights(weights);
                double minus = model.ComputeGradients(x, labels).Loss;
                weights[i] = saved;
                layer.SetWeights(weights);
                AssertNear((plus - minus) / 2e-3, gradients.Values[offset + i], $"{layer.Name} dParameters[{i}]");
            }
            offset += layer.ParameterCount;
        }
    }

    [Fact]
    public void ComputeGradientsThenApplyGradientsIsTrainOnBatchBitForBit()
    {
        Dataset data = TestData.Train.Slice(0, 64);
        float[] x = data.SamplesToArray(0, 64);
        int[] labels = data.Labels[..64];
        var manual = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 9);
        var fitted = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 9);
        var (manualAdam, fittedAdam) = (new Adam(), new Adam());
        var gradients = new float[manual.ParameterCount];
        float[] before = manual.Layers[0].GetWeights();
        for (int step = 0; step < 3; step++)
        {
            float loss = manual.ComputeGradients(x.AsSpan(0, 32 * 784), labels.AsSpan(0, 32), gradients);
            Assert.Equal(before, manual.Layers[0].GetWeights()); // computing gradients changes no weight
            manualAdam.ApplyGradients(manual, gradients);
            before = manual.Layers[0].GetWeights();
            Assert.Equal(fitted.TrainOnBatch(x.AsSpan(0, 32 * 784), labels.AsSpan(0, 32), fittedAdam).Loss, loss);
        }
        Assert.Equal(fitted.Layers.SelectMany(l => l.GetWeights()), manual.Layers.SelectMany(l => l.GetWeights()));
    }

    [Fact]
    public void BadArgumentsNameWhatIsWrong()
    {
        var conv = new Conv2D(1, 2, name: "probe");
        Assert.Contains("not built", Assert.Throws<InvalidOperationException>(() => conv.Forward(new float[9], new float[4], 1)).Message);
        conv.Build(Shape.Image(1, 3, 3));
        Assert.Contains("already built", Assert.Throws<InvalidOperationException>(() => conv.Build(Shape.Image(1, 4, 4))).Message);
        Assert.Contains("got 8", Assert.Throws<ArgumentException>(() => conv.Forward(new float[8], new float[4], 1)).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => conv.Forward([1, 2, 3, 4, float.NaN, 6, 7, 8, 9], new float[4], 1)).Message);
        LayerTape tape = conv.Forward(new float[9], new float[4], 1);
        Assert.Contains("5 parameters", Assert.Throws<ArgumentException>(() => tape.Backward(new float[4], new float[9], new float[4])).Message);
        var model = new Sequential(Shape.Vector(4), [new Dense(3, Activation.Softmax)]);
        Assert.Contains("got 4 gradients", Assert.Throws<ArgumentException>(() => new Adam().ApplyGradients(model, new float[4])).Message);
        Assert.Contains("Label 3", Assert.Throws<ArgumentException>(() => model.ComputeGradients(new float[4], [3])).Message);
    }

    private static void AssertNear(double numeric, float analytic, string what)
    {
        double limit = 2e-2 * Math.Max(1, Math.Abs(numeric)) + 2e-3;
        if (!(Math.Abs(numeric - analytic) <= limit)) Assert.Fail($"{what}: backward gives {analytic}, finite differences give {numeric:G6}.");
    }

    private static float[] Flat(float[,] m) => m.Cast<float>().ToArray();
}
