using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// In inference a convolution pools each image right after computing it (LayerPass.Pooling) instead of the pooling
/// layer's own pass over the batch, and with fewer images than threads it splits each image among them. Held here to
/// the two passes run apart (the convolution's output asked for by name, which the loop does not pool, then a model of
/// the pooling layer alone) and to one thread, bit for bit.
/// </summary>
public class InferencePoolingTests
{
    public static TheoryData<string> Cases => new(CaseNames.Keys);

    // Input shape, then the convolution and the pooling after it. The 3×3 stride-1 convolutions over 8 or more channels
    // and filters take the Winograd path, the others the direct one; a 2×2 max-pooling that tiles the output after ReLU
    // or no activation goes inside Winograd's output transform, every other pooling runs on each image's output.
    private static readonly Dictionary<string, (Shape Input, Func<Layer> Convolution, Func<Pooling2D> Pooling)> CaseNames = new()
    {
        ["direct, the textbook's conv1"] = (Shape.Image(1, 28, 28), () => new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu), () => new MaxPooling2D(2)),
        ["Winograd, the textbook's conv2"] = (Shape.Image(32, 14, 14), () => new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu), () => new MaxPooling2D(2)),
        ["Winograd, odd output, valid pool drops the last row and column"] = (Shape.Image(9, 11, 13), () => new Conv2D(10, 3), () => new MaxPooling2D(2)),
        ["Winograd, odd output, same 2×2 pool reaches past it"] = (Shape.Image(8, 9, 9), () => new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu), () => new MaxPooling2D(2, padding: Padding.Same)),
        ["Winograd, tanh, 3×3 average pool with stride 2, same"] = (Shape.Image(8, 12, 10), () => new Conv2D(12, 3, padding: Padding.Same, activation: Activation.Tanh), () => new AveragePooling2D(3, 2, Padding.Same)),
        ["direct, strided 2×4 kernel, 2×3 max pool with strides (1, 2), same"] = (Shape.Image(3, 10, 9), () => new Conv2D(5, (2, 4), (2, 1)), () => new MaxPooling2D((2, 3), (1, 2), Padding.Same)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PoolingEachImageInsideTheConvolutionGivesTheBitsOfTheTwoPassesApart(string name)
    {
        var (input, convolution, pooling) = CaseNames[name];
        var model = new Sequential(input, [convolution(), pooling(), new Flatten(), new Dense(7, Activation.Softmax)], seed: 11);
        Layer conv = model.Layers[0], pool = model.Layers[1];
        // Biases of both signs and both zeros: a max-pooling after ReLU or no activation goes before the bias.
        float[] weights = conv.GetWeights();
        var biasRandom = new Random(5);
        for (int i = weights.Length - ((Conv2D)conv).Filters; i < weights.Length; i++)
            weights[i] = (i % 4) switch { 0 => 0f, 1 => -0f, _ => (float)(biasRandom.NextDouble() - 0.5) };
        conv.SetWeights(weights);
        var poolingAlone = new Sequential(conv.OutputShape, [pooling()]);
        var head = new Sequential(pool.OutputShape, [new Flatten(), new Dense(7, Activation.Softmax)]);
        head.Layers[1].SetWeights(model.Layers[3].GetWeights());
        const int images = 37; // not a whole number of batches
        var random = new Random(3);
        float[] x = Enumerable.Range(0, images * input.Size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        int[]? reference = null;
        // Fewer images than threads (batch 1 on 2 threads, 2 on 3) split each image among the threads.
        foreach (int threads in new[] { 1, 2, 3 })
            foreach (int batch in new[] { 1, 2, 5, 32 })
            {
                model.Threads = poolingAlone.Threads = threads;
                string what = $"{name}, {threads} threads, batch {batch}";
                float[] convolved = model.PredictLayer(x, conv.Name, batch);
                int[] apart = TestData.Bits(poolingAlone.Predict(convolved, batch)), inside = TestData.Bits(model.PredictLayer(x, pool.Name, batch));
                Assert.True(apart.AsSpan().SequenceEqual(inside), $"{what}: the pooled outputs differ from the two passes apart");
                reference ??= inside;
                Assert.True(reference.AsSpan().SequenceEqual(inside), $"{what}: the pooled outputs differ from 1 thread at batch 1");
                // And what the layers after read is what the pooling wrote: the whole model against the pooled values.
                Assert.Equal(head.Predict(poolingAlone.Predict(convolved, batch), batch), model.Predict(x, batch));
            }
    }
}
