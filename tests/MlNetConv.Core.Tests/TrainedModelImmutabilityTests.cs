using System.Reflection;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Nothing public but the calls meant to (SetWeights, training) changes what a trained model predicts.</summary>
public class TrainedModelImmutabilityTests
{
    [Fact]
    public void PublicQueriesOnATrainedModelAndItsLayersLeaveItsPredictionsBitIdentical()
    {
        var model = new Sequential(FashionMnist.ImageShape,
        [
            new Conv2D(4, 3, padding: Padding.Same, activation: Activation.Relu),
            new MaxPooling2D(2),
            new Conv2D(6, (3, 2), (2, 1), Padding.Valid, Activation.Tanh),
            new AveragePooling2D(2, padding: Padding.Same),
            new Flatten(),
            new Dense(12, Activation.Relu),
            new Dropout(0.3),
            new Dense(10, Activation.Softmax),
        ], seed: 5);
        Dataset data = TestData.Train.Slice(0, 96);
        model.Fit(data, new FitOptions { Epochs = 1 });
        float[] images = TestData.Test.SamplesToArray(0, 16);
        float[] before = model.Predict(images);

        Shape[] otherInputs = [Shape.Image(1, 28, 28), Shape.Image(3, 9, 7), Shape.Image(2, 64, 64), Shape.Vector(50), Shape.Image(1, 1, 1)];
        foreach (Layer layer in model.Layers)
        {
            foreach (Shape shape in otherInputs)
            {
                try { layer.ComputeOutputShape(shape); }
                catch (ArgumentException) { } // a shape the layer cannot take is refused, and changes nothing either
            }
            Assert.Throws<InvalidOperationException>(() => layer.Build(Shape.Image(1, 10, 10)));
            foreach (PropertyInfo property in layer.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
                if (property.PropertyType.IsByRefLike) continue; // Kernel/Bias spans are read-only views
                else _ = property.GetValue(layer);
            float[] weights = layer.GetWeights();
            Array.Fill(weights, 7f); // a copy: writing to it changes nothing
            Layer clone = layer.Clone();
            clone.Build(layer.InputShape);
            if (layer == model.Layers[0]) clone.Forward(images.AsSpan(0, 784), new float[clone.OutputShape.Size], 1, training: true);
        }
        _ = model.Summary();
        _ = model.Evaluate(TestData.Test.Slice(0, 32));
        _ = model.PredictLayer(images, "conv2d_1");
        _ = model.ComputeGradients(data.SamplesToArray(0, 8), data.Labels.AsSpan(0, 8));
        model.Save(new MemoryStream());

        Assert.Equal(before, model.Predict(images));
    }
}
