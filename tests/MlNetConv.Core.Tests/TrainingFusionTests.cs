using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// In training a layer runs the next one too where it can (<see cref="LayerPass.Fused"/>): a normalization of images the
/// ReLU after it; and a max pooling takes the ReLU derivative of the convolution before it
/// (<see cref="LayerPass.RectifiesInputGradient"/>). The loss and every gradient must have the bits of the layers' own
/// passes, run one by one.
/// </summary>
public class TrainingFusionTests
{
    public static TheoryData<string, int, Func<Layer[]>> Chains() => new()
    {
        // A normalization of flat inputs keeps its activation layer (BatchNormalization.FusesInTraining).
        { "conv block and dense block, ReLU", 1, () =>
            [new Conv2D(4, 3, padding: Padding.Same, useBias: false), new BatchNormalization(), new ActivationLayer(Activation.Relu),
             new MaxPooling2D(2), new Flatten(), new Dense(5), new BatchNormalization(), new ActivationLayer(Activation.Relu), new Dense(3)] },
        { "normalization first, the identity", 2, () =>
            [new BatchNormalization(), new ActivationLayer(Activation.Relu), new Conv2D(3, 3, strides: 2),
             new BatchNormalization(center: false), new ActivationLayer(Activation.Linear), new Flatten(), new Dense(3)] },
        { "tanh and sigmoid stay in their own layers", 0, () =>
            [new BatchNormalization(), new ActivationLayer(Activation.Tanh), new Flatten(), new Dense(4),
             new BatchNormalization(), new ActivationLayer(Activation.Sigmoid), new Dense(3)] },
        { "a ReLU after a ReLU: only the first is run by the normalization", 1, () =>
            [new BatchNormalization(), new ActivationLayer(Activation.Relu), new ActivationLayer(Activation.Relu),
             new MaxPooling2D(2), new Flatten(), new Dense(3)] },
    };

    [Theory]
    [MemberData(nameof(Chains))]
    public void FusedTrainingGivesTheBitsOfTheLayersOwnPasses(string what, int fused, Func<Layer[]> layers)
    {
        var model = new Sequential(Shape.Image(2, 12, 12), layers(), seed: 11);
        AssertTheBitsOfTheLayersOwnPasses(model);
        Assert.True(fused == model.TrainingWorkspace(Batch).Passes.Count(p => p.Fused is not null), $"{what}: {fused} fused pairs expected");
    }

    public static TheoryData<string, int, Func<Layer[]>> ConvolutionsBeforePooling() => new()
    {
        { "direct convolution, 2×2 pooling", 1, () =>
            [new Conv2D(4, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2), new Flatten(), new Dense(3)] },
        // conv2 has 8 channels and filters: Winograd. Its 3×3 windows at stride 2 overlap: an input can win two windows.
        { "Winograd convolution, overlapping 3×3 pooling, odd sizes", 2, () =>
            [new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2),
             new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(3, strides: 2, padding: Padding.Same),
             new Flatten(), new Dense(3)] },
        { "no ReLU, or average pooling: their own passes", 0, () =>
            [new Conv2D(4, 3, activation: Activation.Tanh), new MaxPooling2D(2), new Conv2D(4, 3, padding: Padding.Same, activation: Activation.Relu),
             new AveragePooling2D(2), new Flatten(), new Dense(3)] },
    };

    [Theory]
    [MemberData(nameof(ConvolutionsBeforePooling))]
    public void MaxPoolingTakingTheReluDerivativeGivesTheBitsOfTheLayersOwnPasses(string what, int rectified, Func<Layer[]> layers)
    {
        // 13×13: the first 2×2 pooling leaves the last row and column out of every window.
        var model = new Sequential(Shape.Image(2, 13, 13), layers(), seed: 11);
        AssertTheBitsOfTheLayersOwnPasses(model);
        LayerPass[] passes = model.TrainingWorkspace(Batch).Passes;
        Assert.True(rectified == passes.Count(p => p.RectifiesInputGradient), $"{what}: {rectified} pooling passes taking the ReLU's derivative expected");
        for (int i = 1; i < passes.Length; i++)
            Assert.Equal(passes[i].RectifiesInputGradient, passes[i - 1].OutputGradientIsPreActivation);
    }

    private const int Batch = 5;

    // The loss and gradients of ComputeGradients against the layers' tapes, run one by one: the same bits.
    private static void AssertTheBitsOfTheLayersOwnPasses(Sequential model)
    {
        const int batch = Batch;
        foreach (Layer layer in model.Layers.Where(l => l.ParameterCount > 0)) // biases, γ and β away from 0 and 1
            layer.SetWeights(layer.GetWeights().Select((w, i) => i < layer.ParameterCount ? w + 0.1f * (i % 3 - 1) : w).ToArray());
        float[] x = TestData.Random(batch * model.InputShape.Size, 12, 2f);
        int[] labels = [0, 2, 1, 1, 0];
        var gradients = new float[model.ParameterCount];
        float loss = model.ComputeGradients(x, labels, gradients);

        var tapes = new List<LayerTape>();
        float[] activations = x;
        foreach (Layer layer in model.Layers)
        {
            var output = new float[batch * layer.OutputShape.Size];
            tapes.Add(layer.Forward(activations, output, batch, training: true));
            activations = output;
        }
        var dLogits = new float[activations.Length];
        Assert.Equal(SoftmaxCrossEntropy.FromLogits(activations, labels, 3, dLogits), loss);
        var expected = new float[model.ParameterCount];
        int offset = model.ParameterCount;
        float[] dy = dLogits;
        for (int i = model.Layers.Count - 1; i >= 0; i--)
        {
            Layer layer = model.Layers[i];
            offset -= layer.ParameterCount;
            var dx = new float[i == 0 ? 0 : batch * layer.InputShape.Size];
            tapes[i].Backward(dy, dx, expected.AsSpan(offset, layer.ParameterCount));
            dy = dx;
        }
        Assert.Equal(TestData.Bits(expected), TestData.Bits(gradients));
    }
}
