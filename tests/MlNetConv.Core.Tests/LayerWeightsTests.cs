using MlNetConv.Core.Data;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

public class LayerWeightsTests
{
    [Fact]
    public void WeightsMoveBetweenModelsLayerByLayer()
    {
        var source = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 1);
        var target = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 2);
        float[] x = TestData.Test.SamplesToArray(0, 4);
        Assert.NotEqual(source.Predict(x), target.Predict(x));
        for (int i = 0; i < source.Layers.Count; i++) target.Layers[i].SetWeights(source.Layers[i].GetWeights());
        Assert.Equal(source.Predict(x), target.Predict(x));
    }

    [Fact]
    public void KernelAndBiasAreTheLeadingAndTrailingWeights()
    {
        var model = new Sequential(Shape.Image(2, 5, 5), [new Conv2D(3, 2), new Flatten(), new Dense(4)]);
        var conv = (Conv2D)model.Layers[0];
        float[] weights = Enumerable.Range(0, conv.ParameterCount).Select(i => (float)i).ToArray();
        conv.SetWeights(weights);
        Assert.Equal(weights[..24], conv.Kernel.ToArray());
        Assert.Equal(weights[24..], conv.Bias.ToArray());
        var dense = (Dense)model.Layers[2];
        Assert.Equal(dense.GetWeights()[..(48 * 4)], dense.Kernel.ToArray());
    }

    [Fact]
    public void BadWeightsAreRefusedByName()
    {
        var model = new Sequential(Shape.Vector(3), [new Dense(2, name: "out")]);
        Assert.Contains("'out' (Dense) has 8 weights (8 trainable); got 7 values", Assert.Throws<ArgumentException>(() => model.Layers[0].SetWeights(new float[7])).Message);
        var withNaN = new float[8];
        withNaN[5] = float.NaN;
        Assert.Contains("weight 5 is NaN", Assert.Throws<ArgumentException>(() => model.Layers[0].SetWeights(withNaN)).Message);
        Assert.Throws<InvalidOperationException>(() => new Dense(2).SetWeights([]));
    }
}
