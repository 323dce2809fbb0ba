using MlNetConv.Core.Data;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

public class TrainingTests
{
    [Fact]
    public void TextbookModelLearnsFashionMnist()
    {
        Dataset train = TestData.Train.Slice(0, 3000), test = TestData.Test;
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 1);
        double before = model.Evaluate(test).Loss;
        var history = model.Fit(train, new FitOptions { Epochs = 2, ValidationSplit = 0.1 });
        EvaluationResult after = model.Evaluate(test);

        Assert.Equal(2, history.Epochs.Count);
        Assert.True(history.Epochs[1].Loss < history.Epochs[0].Loss, "the training loss falls from epoch 1 to 2");
        Assert.True(after.Loss < before * 0.5, $"test loss {before:F3} before training, {after.Loss:F3} after");
        Assert.True(after.Accuracy > 0.7, $"test accuracy {after.Accuracy:F3} after 2 epochs on 2,700 images (chance is 0.1)");
        Assert.True(history.Epochs[1].ValidationAccuracy > 0.6);
    }

    [Fact]
    public void ResultsAreIdenticalForOneAndTwoThreads()
    {
        Dataset train = TestData.Train.Slice(0, 320);
        float[] Train(int threads)
        {
            var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 5) { Threads = threads };
            model.Fit(train, new FitOptions { Epochs = 1, BatchSize = 32 });
            return model.ParameterBuffer.ToArray();
        }
        float[] one = Train(1), two = Train(2);
        Assert.True(one.AsSpan().SequenceEqual(two), "weights after training differ between 1 and 2 threads");
    }

    [Fact]
    public void SameSeedSameWeightsAndPredictionsAcrossThreadsAndBatchSizes()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 3);
        float[] x = TestData.Test.SamplesToArray(0, 37);
        float[] serial = model.Predict(x, batchSize: 37);
        float[] small = model.Predict(x, batchSize: 5);
        Assert.Equal(serial, small);
        var parallel = new float[4][];
        Parallel.For(0, 4, i => parallel[i] = model.Predict(x, batchSize: 8));
        foreach (float[] p in parallel) Assert.Equal(serial, p);
        Assert.Equal(model.ParameterBuffer, new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 3).ParameterBuffer);
    }

    [Fact]
    public void SingleImagesOnTwoThreadsPredictTheSameAsABatch()
    {
        // Batch 1 on two threads splits Dense's units between the threads (latency); each output is the same sum.
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 4) { Threads = 2 };
        float[] x = TestData.Test.SamplesToArray(0, 9);
        float[] batch = model.Predict(x, batchSize: 9), single = model.Predict(x, batchSize: 1);
        Assert.Equal(batch, single);
        model.Threads = 1;
        Assert.Equal(batch, model.Predict(x, batchSize: 1));
    }

    [Fact]
    public void OneImageTrainsTheSameOnOneAndTwoThreads()
    {
        // One image on two threads: Dense splits its units between the threads in the training forward pass too.
        Dataset image = TestData.Train.Slice(0, 1);
        float[] Gradients(int threads)
        {
            var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 6) { Threads = threads };
            return model.ComputeGradients(image.SamplesToArray(0, 1), image.Labels).Values;
        }
        Assert.Equal(Gradients(1), Gradients(2));
    }

    [Fact]
    public void PredictionsAreProbabilities()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        float[] p = model.Predict(TestData.Test.SamplesToArray(0, 10));
        for (int i = 0; i < 10; i++) Assert.Equal(1.0, p.AsSpan(i * 10, 10).ToArray().Sum(), 4);
    }

    [Fact]
    public void EarlyStoppingStopsAndRestoresTheBestEpoch()
    {
        Dataset train = TestData.Train.Slice(0, 256);
        var options = new FitOptions { Epochs = 5, ValidationSplit = 0.25, EarlyStopping = new EarlyStopping(Patience: 1, RestoreBestWeights: true, MinDelta: 1e9) };
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 9);
        // No epoch can improve by 1e9, so epoch 1 stays best and epoch 2 ends training.
        var history = model.Fit(train, options);
        Assert.Equal(2, history.Epochs.Count);
        Assert.Equal(1, history.BestEpoch);
        Assert.True(history.StoppedEarly);
        Assert.True(history.RestoredBestWeights);

        var oneEpoch = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 9);
        oneEpoch.Fit(train, new FitOptions { Epochs = 1, ValidationSplit = 0.25 });
        Assert.Equal(oneEpoch.ParameterBuffer, model.ParameterBuffer);
        // The validation passes cached the second epoch's transformed kernels in the workspace for batches of 32; the
        // restore must renew them.
        float[] x = TestData.Test.SamplesToArray(0, 32);
        Assert.Equal(oneEpoch.Predict(x), model.Predict(x));
    }

    [Fact]
    public void PredictionsFollowEveryUpdateOfTheWeights()
    {
        // conv2d_1 caches its Winograd-transformed kernels between predictions; each way of changing the weights must
        // renew them, or the model predicts with the weights it had before.
        Dataset batch = TestData.Train.Slice(0, 32);
        float[] x = TestData.Test.SamplesToArray(0, 8);
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 4);
        var optimizer = new Adam(new ConstantLearningRate(0.01f));
        void AssertPredictsWithItsCurrentWeights(string after)
        {
            var copy = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 5);
            for (int i = 0; i < model.Layers.Count; i++) copy.Layers[i].SetWeights(model.Layers[i].GetWeights());
            Assert.True(copy.Predict(x).AsSpan().SequenceEqual(model.Predict(x)), $"stale predictions after {after}");
        }

        model.Predict(x);
        model.TrainOnBatch(batch.SamplesToArray(0, 32), batch.Labels, optimizer);
        AssertPredictsWithItsCurrentWeights("TrainOnBatch");
        optimizer.ApplyGradients(model, model.ComputeGradients(batch.SamplesToArray(0, 32), batch.Labels).Values);
        AssertPredictsWithItsCurrentWeights("ApplyGradients");
        model.Fit(batch, new FitOptions { Epochs = 1, Optimizer = optimizer });
        AssertPredictsWithItsCurrentWeights("Fit");
    }

    [Fact]
    public void ProgressIsReportedPerEpochAndPerBatch()
    {
        var epochs = new List<EpochResult>();
        var batches = new List<BatchProgress>();
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        model.Fit(TestData.Train.Slice(0, 100), new FitOptions { Epochs = 2, BatchSize = 32, BatchProgress = new Collect<BatchProgress>(batches) },
            new Collect<EpochResult>(epochs));
        Assert.Equal([1, 2], epochs.Select(e => e.Epoch));
        Assert.Equal(8, batches.Count);
        Assert.Equal([32, 64, 96, 100], batches.Take(4).Select(b => b.SamplesSeen));
        Assert.All(epochs, e => Assert.Null(e.ValidationLoss));
    }

    [Fact]
    public void CancellationStopsTraining()
    {
        using var cancel = new CancellationTokenSource();
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn());
        var options = new FitOptions { Epochs = 3, BatchProgress = new Collect<BatchProgress>([], _ => cancel.Cancel()) };
        Assert.Throws<OperationCanceledException>(() => model.Fit(TestData.Train.Slice(0, 200), options, cancellationToken: cancel.Token));
    }

    [Fact]
    public void ProfilingReportsEveryLayerAndTrains()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 6);
        float[] before = model.ParameterBuffer.ToArray();
        TrainingProfile profile = model.ProfileTraining(TestData.Train.Slice(0, 256), batches: 5);
        Assert.Equal(model.Layers.Select(l => l.Name), profile.Layers.Select(l => l.Name));
        Assert.All(profile.Layers.Where(l => l.TypeName == "Conv2D"), l => Assert.True(l.Forward > TimeSpan.Zero && l.Backward > TimeSpan.Zero));
        Assert.True(profile.Update > TimeSpan.Zero);
        Assert.Equal(profile.Layers.Sum(l => (l.Forward + l.Backward).Ticks) + profile.Loss.Ticks + profile.Update.Ticks, profile.Total.Ticks);
        Assert.NotEqual(before, model.ParameterBuffer);
    }

    [Fact]
    public void SgdWithNesterovMomentumAlsoTrains()
    {
        var model = new Sequential(FashionMnist.ImageShape,
            [new Conv2D(8, 3, 2, activation: Activation.Relu), new AveragePooling2D(2), new Flatten(), new Dense(10)], seed: 2);
        Dataset train = TestData.Train.Slice(0, 1000);
        double before = model.Evaluate(train).Loss;
        model.Fit(train, new FitOptions { Epochs = 2, Optimizer = new Sgd(0.05f, 0.9f, nesterov: true) });
        Assert.True(model.Evaluate(train).Loss < before * 0.7);
    }

    private sealed class Collect<T>(List<T> sink, Action<T>? also = null) : IProgress<T>
    {
        public void Report(T value)
        {
            sink.Add(value);
            also?.Invoke(value);
        }
    }
}
