using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

public class BadInputTests
{
    [Fact]
    public void ALayerThatDoesNotFitItsInputIsNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => new Sequential(FashionMnist.ImageShape, [new Conv2D(4, 3), new Dense(10)]));
        Assert.Contains("'dense' (Dense)", error.Message);
        Assert.Contains("(4, 26, 26)", error.Message);
        error = Assert.Throws<ArgumentException>(() => new Sequential(Shape.Image(1, 4, 4), [new Conv2D(2, 5)]));
        Assert.Contains("'conv2d' (Conv2D)", error.Message);
        Assert.Contains("(1, 4, 4)", error.Message);
        Assert.Contains("'max_pooling2d' (MaxPooling2D) cannot take input of shape (5)", Assert.Throws<ArgumentException>(() => new Sequential(Shape.Vector(5), [new MaxPooling2D()])).Message);
    }

    [Fact]
    public void InvalidLayerSettingsAreRefused()
    {
        Assert.Equal("filters", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(0, 3)).ParamName);
        var padding = Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, padding: Padding.Full));
        Assert.Equal("padding", padding.ParamName);
        Assert.Contains("Full", padding.Message);
        var activation = Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, activation: Activation.Softmax));
        Assert.Equal("activation", activation.ParamName);
        Assert.Contains("softmax", activation.Message);
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1)).ParamName);
        Assert.Equal("activation", Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(3, (Activation)42)).ParamName);
        var layer = new Dense(3);
        _ = new Sequential(Shape.Vector(4), [layer]);
        Assert.Contains("already belongs", Assert.Throws<ArgumentException>(() => new Sequential(Shape.Vector(4), [layer])).Message);
    }

    [Fact]
    public void LabelsOutOfRangeAreNamed()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        var data = new Dataset(new float[3 * 784], [1, 10, 2], FashionMnist.ImageShape);
        var error = Assert.Throws<ArgumentException>(() => model.Fit(data));
        Assert.Contains("sample 1 is 10", error.Message);
        Assert.Contains("sample 0 is -1", Assert.Throws<ArgumentException>(() => model.Evaluate(new Dataset(new float[784], [-1], FashionMnist.ImageShape))).Message);
    }

    [Fact]
    public void NonFiniteFeaturesAreNamed()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        float[] x = new float[2 * 784];
        x[784 + 5] = float.NaN;
        var error = Assert.Throws<ArgumentException>(() => model.Fit(new Dataset(x, [0, 1], FashionMnist.ImageShape)));
        Assert.Contains("NaN at sample 1, value 5", error.Message);
        x[784 + 5] = float.PositiveInfinity;
        Assert.Contains("at sample 1, value 5", Assert.Throws<ArgumentException>(() => model.Predict(x)).Message);
    }

    [Fact]
    public void WrongSizesAreNamed()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        Assert.Contains("not a whole number of samples", Assert.Throws<ArgumentException>(() => model.Predict(new float[785])).Message);
        Assert.Contains("need 1568 feature values", Assert.Throws<ArgumentException>(() => new Dataset(new float[784], [0, 1], FashionMnist.ImageShape)).Message);
        var other = new Dataset(new float[2 * 100], [0, 1], Shape.Vector(100));
        Assert.Contains("the model takes (1, 28, 28)", Assert.Throws<ArgumentException>(() => model.Fit(other)).Message);
        Assert.Contains("No layer named 'conv3'", Assert.Throws<ArgumentException>(() => model.PredictLayer(new float[784], "conv3")).Message);
    }

    [Fact]
    public void DivergingTrainingStopsWithAClearError()
    {
        var model = new Sequential(FashionMnist.ImageShape, [new Flatten(), new Dense(10)]);
        var data = TestData.Train.Slice(0, 256);
        var scaled = new Dataset(data.SamplesToArray(0, data.Count).Select(v => v * 1e18f).ToArray(), data.Labels, data.SampleShape);
        var error = Assert.Throws<InvalidOperationException>(() => model.Fit(scaled, new FitOptions { Epochs = 3, Optimizer = new Sgd(1e6f) }));
        Assert.Contains("diverged", error.Message);
        Assert.Contains("epoch", error.Message);
    }

    [Fact]
    public void FitSettingsAreChecked()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        var data = TestData.Train.Slice(0, 10);
        Assert.StartsWith("Epochs must be at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions { Epochs = 0 })).Message);
        Assert.StartsWith("The batch size must be at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions { BatchSize = 0 })).Message);
        Assert.StartsWith("The validation split must be in [0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions { ValidationSplit = 1 })).Message);
        var regression = new Sequential(Shape.Vector(3), [new Dense(1)]);
        Assert.Contains("at least 2 class scores", Assert.Throws<InvalidOperationException>(
            () => regression.Fit(new Dataset(new float[3], [0], Shape.Vector(3)))).Message);
    }
}
