using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

/// <summary>
/// In inference a convolution runs the layers after it that work image by image (normalization, activation, pooling)
/// on each image right after computing it (LayerPass.Followers), instead of their own passes over the batch; a lone
/// 2×2 max-pooling goes inside the convolution itself; and with fewer images than threads each image splits among
/// them. Held here to the passes run apart (the convolution's output asked for by name, which runs no followers, then
/// a model of the followers alone, with the same weights) and to one thread, bit for bit, after every follower.
/// </summary>
public class InferenceImageByImageTests
{
    public static TheoryData<string> Cases => new(CaseNames.Keys);

    // Input shape, then the convolution and its followers. The 3×3 stride-1 convolutions over 8 or more channels and
    // filters take the Winograd path, the others the direct one; the 5×5 one's product reads shifted planes and the
    // 3×3 stride-2 one's a padded image, but where an image splits among the threads, which goes through its columns.
    private static readonly Dictionary<string, (Shape Input, Func<Layer[]> Layers)> CaseNames = new()
    {
        ["direct, the textbook's conv1 and pool"] = (Shape.Image(1, 28, 28), () => [new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2)]),
        ["Winograd, the textbook's conv2 and pool"] = (Shape.Image(32, 14, 14), () => [new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2)]),
        ["Winograd, odd output, valid pool drops the last row and column"] = (Shape.Image(9, 11, 13), () => [new Conv2D(10, 3), new MaxPooling2D(2)]),
        ["Winograd, odd output, same 2×2 pool reaches past it"] = (Shape.Image(8, 9, 9), () => [new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2, padding: Padding.Same)]),
        ["Winograd, tanh, 3×3 average pool with stride 2, same"] = (Shape.Image(8, 12, 10), () => [new Conv2D(12, 3, padding: Padding.Same, activation: Activation.Tanh), new AveragePooling2D(3, 2, Padding.Same)]),
        ["direct, strided 2×4 kernel, 2×3 max pool with strides (1, 2), same"] = (Shape.Image(3, 10, 9), () => [new Conv2D(5, (2, 4), (2, 1)), new MaxPooling2D((2, 3), (1, 2), Padding.Same)]),
        ["direct from shifted planes, 5×5 over 4 channels, and pool"] = (Shape.Image(4, 9, 10), () => [new Conv2D(8, 5, padding: Padding.Same, activation: Activation.Relu), new MaxPooling2D(2)]),
        ["direct from a padded image, 3×3 stride 2 over 8 channels"] = (Shape.Image(8, 13, 21), () => [new Conv2D(12, 3, 2, Padding.Same, Activation.Tanh), new BatchNormalization()]),
        ["direct, the modern preset's conv1 block"] = (Shape.Image(1, 28, 28), () => [new Conv2D(32, 3, padding: Padding.Same, useBias: false), new BatchNormalization(), new ActivationLayer(Activation.Relu), new MaxPooling2D(2)]),
        ["Winograd, the modern preset's conv2 block"] = (Shape.Image(32, 14, 14), () => [new Conv2D(64, 3, padding: Padding.Same, useBias: false), new BatchNormalization(), new ActivationLayer(Activation.Relu), new MaxPooling2D(2)]),
        ["Winograd, normalization alone, then sigmoid"] = (Shape.Image(8, 7, 6), () => [new Conv2D(9, 3, padding: Padding.Same), new BatchNormalization(), new ActivationLayer(Activation.Sigmoid)]),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FollowersRunImageByImageGiveTheBitsOfThePassesApart(string name)
    {
        var (input, layers) = CaseNames[name];
        Layer[] chain = layers();
        var model = new Sequential(input, [.. chain, new Flatten(), new Dense(7, Activation.Softmax)], seed: 11);
        var weightRandom = new Random(5);
        foreach (Layer layer in chain) layer.SetWeights(Weights(layer, weightRandom));
        Layer conv = chain[0];
        var followersAlone = new Sequential(conv.OutputShape, chain.Skip(1).Select(layer => layer.Clone()));
        for (int i = 1; i < chain.Length; i++) followersAlone.Layers[i - 1].SetWeights(chain[i].GetWeights());
        var head = new Sequential(chain[^1].OutputShape, [new Flatten(), new Dense(7, Activation.Softmax)]);
        head.Layers[1].SetWeights(model.Layers[chain.Length + 1].GetWeights());
        const int images = 37; // not a whole number of batches
        var random = new Random(3);
        float[] x = Enumerable.Range(0, images * input.Size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var reference = new int[chain.Length][];
        // Fewer images than threads (batch 1 on 2 threads, 2 on 3) split each image among the threads.
        foreach (int threads in new[] { 1, 2, 3 })
            foreach (int batch in new[] { 1, 2, 5, 32 })
            {
                model.Threads = followersAlone.Threads = threads;
                float[] convolved = model.PredictLayer(x, conv.Name, batch);
                for (int i = 1; i < chain.Length; i++) // the chain up to each follower
                {
                    string what = $"{name}, up to {chain[i].TypeName} {i}, {threads} threads, batch {batch}";
                    int[] apart = TestData.Bits(followersAlone.PredictLayer(convolved, followersAlone.Layers[i - 1].Name, batch));
                    int[] inside = TestData.Bits(model.PredictLayer(x, chain[i].Name, batch));
                    Assert.True(apart.AsSpan().SequenceEqual(inside), $"{what}: the outputs differ from the passes apart");
                    reference[i] ??= inside;
                    Assert.True(reference[i].AsSpan().SequenceEqual(inside), $"{what}: the outputs differ from 1 thread at batch 1");
                }
                // And what the layers after read is what the last follower wrote: the whole model against the values apart.
                Assert.Equal(head.Predict(followersAlone.Predict(convolved, batch), batch), model.Predict(x, batch));
            }
    }

    // Biases of both signs and both zeros (a lone max-pooling after ReLU or no activation goes before the bias);
    // normalization with scales of both signs and moving statistics far from 0 and 1.
    private static float[] Weights(Layer layer, Random random)
    {
        float[] weights = layer.GetWeights();
        switch (layer)
        {
            case Conv2D { UseBias: true } conv:
                for (int i = weights.Length - conv.Filters; i < weights.Length; i++)
                    weights[i] = (i % 4) switch { 0 => 0f, 1 => -0f, _ => (float)(random.NextDouble() - 0.5) };
                break;
            case BatchNormalization:
                int channels = weights.Length / 4; // γ, β, moving mean, moving variance
                for (int c = 0; c < channels; c++)
                {
                    weights[c] = (float)(random.NextDouble() * 3 - 1);
                    weights[channels + c] = (float)(random.NextDouble() - 0.5);
                    weights[2 * channels + c] = (float)(random.NextDouble() * 2 - 1);
                    weights[3 * channels + c] = (float)(random.NextDouble() * 4 + 0.1);
                }
                break;
        }
        return weights;
    }
}
