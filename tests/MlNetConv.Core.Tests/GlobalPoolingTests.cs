using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Kernels.Reference;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>GlobalAveragePooling2D and GlobalMaxPooling2D: shapes as Keras gives them, the kernels against the reference, a round trip.</summary>
public class GlobalPoolingTests
{
    [Fact]
    public void ShapesAreKerasWithoutKeptDimensions()
    {
        Assert.Equal(Shape.Vector(64), new GlobalAveragePooling2D().ComputeOutputShape(Shape.Image(64, 7, 7)));
        Assert.Equal(Shape.Vector(3), new GlobalMaxPooling2D().ComputeOutputShape(Shape.Image(3, 1, 9)));
        var error = Assert.Throws<ArgumentException>(() => new GlobalMaxPooling2D(name: "gmp").ComputeOutputShape(Shape.Vector(10)));
        Assert.Contains("Layer 'gmp' (GlobalMaxPooling2D) cannot take input of shape", error.Message);
    }

    [Fact]
    public void KernelsEqualTheReferenceAtEveryLengthOnThisSimdPath()
    {
        for (int area = 1; area <= 70; area++)
            for (int channels = 1; channels <= 3; channels++)
            {
                float[] x = TestData.Random(area * channels, area * 7 + channels);
                if (area > 5 && channels > 1) x[area + 3] = x[area + 1]; // a tie in channel 1
                var (fast, reference) = (new float[channels], new float[channels]);
                GlobalPooling2DKernels.AverageForward(x, fast, area);
                GlobalPooling2DReference.AverageForward(x, reference, area);
                TestData.AssertClose(reference, fast, 1e-6f, $"average, area {area}, {channels} channels");
                var (fastIndex, referenceIndex) = (new int[channels], new int[channels]);
                GlobalPooling2DKernels.MaxForward(x, fast, fastIndex, area);
                GlobalPooling2DReference.MaxForward(x, reference, referenceIndex, area);
                Assert.Equal(reference, fast);
                Assert.Equal(referenceIndex, fastIndex);
            }
        float[] withNaN = [1, float.NaN, 3, 2];
        var y = new float[1];
        var index = new int[1];
        GlobalPooling2DKernels.MaxForward(withNaN, y, index, 4);
        Assert.True(float.IsNaN(y[0]) && index[0] == 1, "a NaN is the maximum of its channel");
    }

    [Fact]
    public void AModelWithGlobalPoolingSavesAndLoadsBitIdentically()
    {
        var model = new Sequential(FashionMnist.ImageShape,
            [new Conv2D(6, 3, activation: Activation.Relu), new GlobalAveragePooling2D(), new Dense(10, Activation.Softmax)], seed: 3);
        var other = new Sequential(FashionMnist.ImageShape,
            [new Conv2D(6, 3, activation: Activation.Relu), new GlobalMaxPooling2D(), new Dense(10, Activation.Softmax)], seed: 3);
        float[] images = TestData.Test.SamplesToArray(0, 8);
        foreach (Sequential m in new[] { model, other })
        {
            var stream = new MemoryStream();
            m.Save(stream);
            stream.Position = 0;
            Sequential loaded = Sequential.Load(stream);
            Assert.Equal(m.Layers.Select(l => l.TypeName), loaded.Layers.Select(l => l.TypeName));
            Assert.Equal(m.Predict(images), loaded.Predict(images));
        }
        Assert.Contains("global_average_pooling2d (GlobalAveragePooling2D)", model.Summary());
        Assert.Contains("(None, 6)", model.Summary());
    }
}
