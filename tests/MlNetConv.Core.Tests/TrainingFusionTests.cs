using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// In training a layer runs the next one too where it can (<see cref="LayerPass.Fused"/>): a normalization of images the
/// ReLU after it. The loss and every gradient must have the bits of the layers' own passes, run one by one.
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
        const int batch = 5;
        var model = new Sequential(Shape.Image(2, 12, 12), layers(), seed: 11);
        foreach (Layer layer in model.Layers.Where(l => l.ParameterCount > 0)) // biases, γ and β away from 0 and 1
            layer.SetWeights(layer.GetWeights().Select((w, i) => i < layer.ParameterCount ? w + 0.1f * (i % 3 - 1) : w).ToArray());
        float[] x = TestData.Random(batch * model.InputShape.Size, 12, 2f);
        int[] labels = [0, 2, 1, 1, 0];
        var gradients = new float[model.ParameterCount];
        float loss = model.ComputeGradients(x, labels, gradients);
        Assert.True(fused == model.TrainingWorkspace(batch).Passes.Count(p => p.Fused is not null), $"{what}: {fused} fused pairs expected");

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
