using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>RandomFlip and RandomTranslation: active only in training, Keras's geometry, deterministic for a seed on any thread count.</summary>
public class AugmentationTests
{
    private static readonly float[] Image = [1, 2, 3, 4, 5, 6]; // one channel, 2 rows × 3 columns

    [Fact]
    public void PredictionIsTheIdentity()
    {
        foreach (Layer layer in new Layer[] { new RandomFlip(), new RandomTranslation(0.5, 0.5) })
        {
            layer.Build(Shape.Image(1, 2, 3));
            var y = new float[6];
            layer.Forward(Image, y, batch: 1, training: false);
            Assert.Equal(Image, y);
        }
    }

    [Fact]
    public void FlipsAreMirrorImagesInTheirModeOnly()
    {
        float[] leftRight = [3, 2, 1, 6, 5, 4], topBottom = [4, 5, 6, 1, 2, 3], both = [6, 5, 4, 3, 2, 1];
        foreach (FlipMode mode in Enum.GetValues<FlipMode>())
        {
            var flip = new RandomFlip(mode);
            flip.Build(Shape.Image(1, 2, 3));
            var seen = new HashSet<string>();
            for (int seed = 0; seed < 40; seed++)
            {
                var y = new float[6];
                flip.Forward(Image, y, batch: 1, training: true, seed: seed);
                seen.Add(string.Join(",", y));
            }
            string[] expected = mode switch
            {
                FlipMode.Horizontal => [string.Join(",", Image), string.Join(",", leftRight)],
                FlipMode.Vertical => [string.Join(",", Image), string.Join(",", topBottom)],
                _ => [string.Join(",", Image), string.Join(",", leftRight), string.Join(",", topBottom), string.Join(",", both)],
            };
            Assert.Equal(expected.Order(), seen.Order());
        }
    }

    [Fact]
    public void TranslationMovesDownAndRightFillsZerosAndInterpolatesBilinearly()
    {
        var y = new float[6];
        ImageTransformKernels.TranslateForward(Image, y, 1, 2, 3, dy: 1, dx: 0);
        Assert.Equal([0, 0, 0, 1, 2, 3], y);
        ImageTransformKernels.TranslateForward(Image, y, 1, 2, 3, dy: 0, dx: -1);
        Assert.Equal([2, 3, 0, 5, 6, 0], y);
        ImageTransformKernels.TranslateForward(Image, y, 1, 2, 3, dy: 0, dx: 0.25f);
        Assert.Equal([0.75f, 1.75f, 2.75f, 3f, 4.75f, 5.75f], y); // y(j) = 0.75·x(j) + 0.25·x(j − 1), zero before the edge

        // The backward pass is the transpose: ⟨T x, g⟩ = ⟨x, Tᵀ g⟩ for any shift.
        float[] x = TestData.Random(2 * 5 * 4, 1), g = TestData.Random(2 * 5 * 4, 2);
        var (tx, tg) = (new float[x.Length], new float[x.Length]);
        ImageTransformKernels.TranslateForward(x, tx, 2, 5, 4, dy: 1.3f, dx: -0.6f);
        ImageTransformKernels.TranslateBackward(g, tg, 2, 5, 4, dy: 1.3f, dx: -0.6f);
        Assert.Equal(tx.Zip(g, (a, b) => (double)a * b).Sum(), x.Zip(tg, (a, b) => (double)a * b).Sum(), 4);
    }

    [Fact]
    public void TrainingWithAugmentationGivesTheSameBitsOnOneAndTwoThreads()
    {
        float[] Train(int threads)
        {
            var model = new Sequential(FashionMnist.ImageShape,
                [new RandomFlip(FlipMode.Horizontal), new RandomTranslation(0.1, 0.1), new Conv2D(4, 3, strides: 2), new Flatten(), new Dense(10, Activation.Softmax)],
                seed: 8) { Threads = threads };
            model.Fit(TestData.Train.Slice(0, 96), new FitOptions { Epochs = 2 });
            var stream = new MemoryStream();
            model.Save(stream);
            stream.Position = 0;
            Assert.Equal(model.Predict(TestData.Test.SamplesToArray(0, 4)), Sequential.Load(stream).Predict(TestData.Test.SamplesToArray(0, 4)));
            return [.. model.Layers.SelectMany(l => l.GetWeights())];
        }
        Assert.Equal(Train(1), Train(2));
    }

    [Fact]
    public void BadSettingsNameTheLayerAndTheValue()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RandomFlip((FlipMode)7, name: "flip"));
        Assert.Contains("Layer 'flip' (RandomFlip): flip mode 7 does not exist", error.Message);
        Assert.Equal("heightFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomTranslation(1.5, 0.1)).ParamName);
        Assert.Equal("widthFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomTranslation((0, 0.1), (0.2, -0.2))).ParamName);
        var flat = Assert.Throws<ArgumentException>(() => new Sequential(Shape.Vector(10), [new RandomFlip(name: "f")]));
        Assert.Contains("Layer 'f' (RandomFlip) cannot take input of shape", flat.Message);
    }
}
