using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// Exported models run in ONNX Runtime and give the engine's predictions: every layer and configuration, odd shapes,
/// Keras's asymmetric "same" pads, batch 1 and a batch of many, on every SIMD path the engine tests run on.
/// </summary>
public class OnnxExportTests
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string> Architectures => ["every-layer", "strided-global-max", "global-average", "flat-input", "textbook", "modern"];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void OnnxRuntimeGivesTheEnginesPredictions(string architecture)
    {
        Sequential model = Create(architecture);
        RandomizeWeights(model, seed: architecture.Length);
        int batch = 9;
        float[] features = architecture is "textbook" or "modern"
            ? TestData.Test.SamplesToArray(0, batch)
            : TestData.Random(batch * model.InputShape.Size, seed: 3);
        float[] expected = model.Predict(features);

        using var session = new InferenceSession(Export(model));
        foreach (int n in new[] { 1, batch })
        {
            for (int start = 0; start < batch; start += n)
            {
                var (probabilities, classes) = Run(session, model.InputShape, features.AsSpan(start * model.InputShape.Size, n * model.InputShape.Size));
                ReadOnlySpan<float> want = expected.AsSpan(start * model.ClassCount, n * model.ClassCount);
                float difference = MaxAbsoluteDifference(want, probabilities);
                Assert.True(difference <= Tolerance, $"{architecture}, batch {n} from {start}: ONNX Runtime differs from the engine by {difference:G3}.");
                for (int i = 0; i < n; i++)
                    Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(want.Slice(i * model.ClassCount, model.ClassCount)), (int)classes[i]);
            }
        }
    }

    [Fact]
    public void TheGraphStatesItsInterfaceProducerAndClassNames()
    {
        Sequential model = Create("textbook");
        using var session = new InferenceSession(Export(model, new OnnxExportOptions { ClassNames = FashionMnist.ClassNames, ModelVersion = 3 }));

        NodeMetadata input = session.InputMetadata[OnnxExport.InputName];
        Assert.Single(session.InputMetadata);
        Assert.Equal(new[] { -1, 1, 28, 28 }, input.Dimensions);
        Assert.Equal(new[] { OnnxExport.BatchDimensionName, "", "", "" }, input.SymbolicDimensions);
        Assert.Equal(typeof(float), input.ElementType);
        Assert.Equal([OnnxExport.ProbabilitiesName, OnnxExport.ClassIndexName], session.OutputMetadata.Keys.Order().Reverse());
        Assert.Equal(new[] { -1, 10 }, session.OutputMetadata[OnnxExport.ProbabilitiesName].Dimensions);
        Assert.Equal(new[] { -1 }, session.OutputMetadata[OnnxExport.ClassIndexName].Dimensions);
        Assert.Equal(typeof(long), session.OutputMetadata[OnnxExport.ClassIndexName].ElementType);

        ModelMetadata metadata = session.ModelMetadata;
        Assert.Equal("MlNetConv", metadata.ProducerName);
        Assert.Equal(model.Name, metadata.GraphName);
        Assert.Equal(3, metadata.Version);
        Assert.Equal(model.Summary(), metadata.Description);
        Assert.Equal("[\"T-shirt/top\",\"Trouser\",\"Pullover\",\"Dress\",\"Coat\",\"Sandal\",\"Shirt\",\"Sneaker\",\"Bag\",\"Ankle boot\"]",
            metadata.CustomMetadataMap[OnnxExport.ClassNamesKey]);
    }

    [Fact]
    public void DropoutAndAugmentationVanishAndBatchNormalizationStaysItsOwnOperator()
    {
        // Without the summary as description, a layer's name appears only where its nodes or values do.
        string text = System.Text.Encoding.Latin1.GetString(Export(Create("modern"), new OnnxExportOptions { Description = "" }));
        Assert.DoesNotContain("dropout", text);
        Assert.DoesNotContain("random_flip", text);
        Assert.Contains("conv2d", text);
        // op_type (field 4, length 18) "BatchNormalization": one node per layer.
        Assert.Equal(3, CountOf(text, "\"\u0012BatchNormalization"));
    }

    [Fact]
    public void AModelThatIsNoClassifierIsRefusedByName()
    {
        var model = new Sequential(Shape.Image(1, 6, 6), [new Conv2D(2, 3)], name: "feature_extractor");
        var e = Assert.Throws<ArgumentException>(() => model.ExportToOnnx(new MemoryStream()));
        Assert.StartsWith("Model 'feature_extractor' outputs (2, 4, 4) per sample; ONNX export writes classifiers", e.Message);
    }

    [Fact]
    public void ClassNamesMustNameEveryClass()
    {
        var model = new Sequential(Shape.Vector(4), [new Dense(3, Activation.Softmax)]);
        var e = Assert.Throws<ArgumentException>(() => model.ExportToOnnx(new MemoryStream(), new OnnxExportOptions { ClassNames = ["a", "b"] }));
        Assert.StartsWith("Model 'sequential' scores 3 classes but 2 class names were given.", e.Message);
    }

    [Fact]
    public void ExportToAFileWritesWhatTheStreamGets()
    {
        Sequential model = Create("global-average");
        string path = Path.Combine(Path.GetTempPath(), $"mlnetconv-{Guid.NewGuid():N}.onnx");
        try
        {
            model.ExportToOnnx(path);
            Assert.Equal(Export(model), File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "").Length) / part.Length;

    private static Sequential Create(string architecture) => architecture switch
    {
        // Every layer kind, with the shapes where Keras's "same" is asymmetric: (3, 2) kernel, strides (2, 1) on 11 × 9.
        "every-layer" => new Sequential(Shape.Image(3, 11, 9),
        [
            new Conv2D(4, (3, 2), (2, 1), Padding.Same, Activation.Relu),
            new BatchNormalization(epsilon: 0.01),
            new AveragePooling2D((3, 3), (2, 2), Padding.Same),
            new Conv2D(5, (2, 2), (1, 1), Padding.Valid, Activation.Tanh, useBias: false),
            new MaxPooling2D((2, 3), (1, 2), Padding.Same),
            new Flatten(),
            new Dense(7, Activation.Sigmoid),
            new Dropout(0.5),
            new BatchNormalization(center: false),
            new Dense(6, Activation.Softmax),
        ]),
        "strided-global-max" => new Sequential(Shape.Image(2, 10, 10),
        [
            new RandomFlip(FlipMode.HorizontalAndVertical),
            new RandomTranslation(0.2, 0.2),
            new Conv2D(6, 5, strides: 2, Padding.Same),
            new ActivationLayer(Activation.Relu),
            new MaxPooling2D(3, strides: 1, Padding.Valid),
            new GlobalMaxPooling2D(),
            new Dense(4, useBias: false),
            new ActivationLayer(Activation.Softmax),
        ]),
        "global-average" => new Sequential(Shape.Image(3, 8, 7),
        [
            new Conv2D(4, 4, padding: Padding.Same, activation: Activation.Relu, useBias: false),
            new BatchNormalization(scale: false),
            new GlobalAveragePooling2D(),
            new Dense(3, Activation.Softmax),
        ]),
        "flat-input" => new Sequential(Shape.Vector(20),
        [
            new Flatten(),
            new Dense(8, Activation.Tanh),
            new BatchNormalization(axis: -1),
            new Dense(5, Activation.Sigmoid),
            new Dense(3, Activation.Softmax),
        ]),
        "textbook" => new Sequential(FashionMnist.ImageShape, Core.Architectures.TextbookCnn()),
        "modern" => new Sequential(FashionMnist.ImageShape, Core.Architectures.ModernCnn()),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture)),
    };

    // Weights away from their initial values, at the scale of a trained model's: biases, γ, β and moving statistics
    // that change the outputs.
    private static void RandomizeWeights(Sequential model, int seed)
    {
        var random = new Random(seed);
        float Uniform(float low, float high) => low + (float)random.NextDouble() * (high - low);
        foreach (Layer layer in model.Layers)
        {
            float[] weights = layer.GetWeights();
            if (layer is BatchNormalization)
            {
                // γ (or β alone), β, moving mean, then the moving variance, positive.
                int channels = layer.NonTrainableParameterCount / 2;
                for (int i = 0; i < weights.Length; i++)
                    weights[i] = i >= weights.Length - channels ? Uniform(0.2f, 1.2f) : Uniform(-0.5f, 0.5f) + (i < channels && layer.ParameterCount > 0 ? 1 : 0);
            }
            else
            {
                for (int i = 0; i < weights.Length; i++) weights[i] = weights[i] * 1.5f + Uniform(-0.1f, 0.1f);
            }
            layer.SetWeights(weights);
        }
    }

    private static byte[] Export(Sequential model, OnnxExportOptions? options = null)
    {
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, options);
        return stream.ToArray();
    }

    private static (float[] Probabilities, long[] Classes) Run(InferenceSession session, Shape sample, ReadOnlySpan<float> features)
    {
        int n = features.Length / sample.Size;
        int[] dimensions = sample.Rank == 3 ? [n, sample.Channels, sample.Height, sample.Width] : [n, sample.Channels];
        var input = new DenseTensor<float>(features.ToArray(), dimensions);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, input)]);
        return (results.Single(r => r.Name == OnnxExport.ProbabilitiesName).AsTensor<float>().ToArray(),
            results.Single(r => r.Name == OnnxExport.ClassIndexName).AsTensor<long>().ToArray());
    }

    private static float MaxAbsoluteDifference(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        return max;
    }
}
