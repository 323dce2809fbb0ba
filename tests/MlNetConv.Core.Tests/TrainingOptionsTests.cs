using MlNetConv.Core.Data;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Label smoothing, ReduceLROnPlateau and schedules inside Fit.</summary>
public class TrainingOptionsTests
{
    [Fact]
    public void LabelSmoothingGivesTheSmoothedCrossEntropyAndItsGradient()
    {
        const int n = 3, classes = 4;
        const float s = 0.2f;
        float[] logits = TestData.Random(n * classes, 31, 2f);
        int[] labels = [2, 0, 3];
        var dLogits = new float[n * classes];
        float loss = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, dLogits, s);

        // By hand: y = (1 − s)·onehot + s/K, loss = −mean Σ y·log softmax(z), dL/dz = (softmax(z) − y)/N.
        double expected = 0;
        for (int row = 0; row < n; row++)
        {
            double[] z = [.. logits.Skip(row * classes).Take(classes).Select(v => (double)v)];
            double lse = Math.Log(z.Sum(Math.Exp));
            for (int k = 0; k < classes; k++)
            {
                double y = (k == labels[row] ? 1 - s : 0) + s / classes;
                expected -= y * (z[k] - lse) / n;
                Assert.Equal((Math.Exp(z[k] - lse) - y) / n, dLogits[row * classes + k], 6);
            }
        }
        Assert.Equal(expected, loss, 5);

        // The fused softmax path gives the same loss and gradient from the probabilities.
        float[] probabilities = [.. logits];
        Activations.Softmax(probabilities, classes);
        var fused = new float[n * classes];
        Assert.Equal(loss, SoftmaxCrossEntropy.FromProbabilities(probabilities, labels, classes, fused, s), 5);
        TestData.AssertClose(dLogits, fused, 1e-6f, "fused smoothed gradient");

        // And the gradient is the loss's derivative (finite differences on the logits).
        var scratch = new float[n * classes];
        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits[i];
            logits[i] = saved + 1e-3f;
            double plus = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, scratch, s);
            logits[i] = saved - 1e-3f;
            double minus = SoftmaxCrossEntropy.FromLogits(logits, labels, classes, scratch, s);
            logits[i] = saved;
            Assert.Equal((plus - minus) / 2e-3, dLogits[i], 3);
        }
    }

    [Fact]
    public void ReduceLROnPlateauCutsTheRateAfterPatienceAndWaitsOutTheCooldown()
    {
        var adam = new Adam(0.1f);
        var monitor = new PlateauMonitor(new ReduceLROnPlateau(Factor: 0.5, Patience: 2, Cooldown: 1, MinLearningRate: 0.02f), adam);
        float[] rates = [.. new[] { 1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1, 1.2, 1.3 }.Select(loss =>
        {
            monitor.EndOfEpoch(loss);
            return adam.CurrentLearningRate;
        })];
        // Epoch 4: two epochs without improving on 0.9 → 0.05; epoch 5 cools down; 6 and 7 wait → 0.025; 8 cools down;
        // 9 and 10 wait → 0.0125, held at the minimum 0.02.
        Assert.Equal([0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f, 0.025f, 0.02f, 0.02f], rates);
    }

    [Fact]
    public void FitReportsEachEpochsLearningRateAndRefusesAPlateauOnASchedule()
    {
        Dataset data = TestData.Train.Slice(0, 64);
        var model = new Sequential(FashionMnist.ImageShape, [new Flatten(), new Dense(10, Activation.Softmax)], seed: 2);
        var schedule = new PiecewiseConstantDecay([1], [0.01f, 0.001f]); // updates 0 and 1 at 0.01, then 0.001
        TrainingHistory history = model.Fit(data, new FitOptions { Epochs = 2, BatchSize = 32, Optimizer = new Adam(schedule), LabelSmoothing = 0.1f });
        Assert.Equal([0.01f, 0.001f], history.Epochs.Select(e => e.LearningRate));

        var error = Assert.Throws<ArgumentException>(() => model.Fit(data, new FitOptions
        {
            Optimizer = new Adam(schedule),
            ReduceLearningRateOnPlateau = new ReduceLROnPlateau(),
        }));
        Assert.Contains("PiecewiseConstantDecay", error.Message);
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions { LabelSmoothing = 1 })).ParamName);
        Assert.Equal("Factor", Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data, new FitOptions
        {
            ReduceLearningRateOnPlateau = new ReduceLROnPlateau(Factor: 1.5),
        })).ParamName);
    }
}
