using MlNetConv.Core.Threading;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

public class OptimizerTests
{
    [Fact]
    public void AdamFollowsKerasUpdateRule()
    {
        var adam = new Adam();
        Assert.Equal((1e-3f, 0.9f, 0.999f, 1e-7f, 0f), (adam.CurrentLearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay));
        adam.Prepare(2);
        float[] p = [1f, -2f];
        float[][] grads = [[0.5f, -1e-3f], [0.25f, 2f]];
        double m0 = 0, v0 = 0, m1 = 0, v1 = 0, p0 = 1, p1 = -2;
        for (int t = 1; t <= 2; t++)
        {
            adam.Step(p, grads[t - 1], WorkerPool.ForThreads(1));
            double alpha = 1e-3 * Math.Sqrt(1 - Math.Pow(0.999, t)) / (1 - Math.Pow(0.9, t));
            m0 += (grads[t - 1][0] - m0) * 0.1; v0 += (grads[t - 1][0] * (double)grads[t - 1][0] - v0) * 0.001;
            m1 += (grads[t - 1][1] - m1) * 0.1; v1 += (grads[t - 1][1] * (double)grads[t - 1][1] - v1) * 0.001;
            p0 -= alpha * m0 / (Math.Sqrt(v0) + 1e-7);
            p1 -= alpha * m1 / (Math.Sqrt(v1) + 1e-7);
        }
        Assert.Equal(p0, p[0], 6);
        Assert.Equal(p1, p[1], 6);
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.9f, false)]
    [InlineData(0.9f, true)]
    public void SgdFollowsKerasUpdateRule(float momentum, bool nesterov)
    {
        var sgd = new Sgd(0.1f, momentum, nesterov);
        sgd.Prepare(1);
        float[] p = [1f];
        double expected = 1, velocity = 0;
        foreach (float g in new[] { 0.5f, -0.25f, 1f })
        {
            sgd.Step(p, [g], WorkerPool.ForThreads(1));
            velocity = momentum * velocity - 0.1 * g;
            expected += momentum == 0 ? -0.1 * g : nesterov ? momentum * velocity - 0.1 * g : velocity;
        }
        Assert.Equal(expected, p[0], 5);
    }

    [Fact]
    public void InvalidSettingsAreRefused()
    {
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(learningRate: 0)).ParamName);
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: 1)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(momentum: -0.1f)).ParamName);
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("nesterov")]
    public void BlocksOnTwoThreadsGiveTheBitsOfOneThread(string kind)
    {
        // 40,000 parameters: three blocks, the last one short.
        float[] Run(int threads)
        {
            Optimizer optimizer = kind == "adam" ? new Adam() : new Sgd(0.1f, 0.9f, nesterov: true);
            optimizer.Prepare(40_000);
            float[] p = TestData.Random(40_000, 1);
            for (int step = 0; step < 3; step++) optimizer.Step(p, TestData.Random(40_000, 2 + step), WorkerPool.ForThreads(threads));
            return p;
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void AdamWDecaysEveryParameterByItsLearningRateBeforeTheAdamStep()
    {
        // Keras 3: θ ← θ − θ·wd·lr, then Adam's update; lr from the schedule at the update's step (0, 1, …).
        var schedule = new PiecewiseConstantDecay([0], [0.01f, 0.005f]);
        var adamW = new AdamW(schedule, weightDecay: 0.1f);
        Assert.Equal((0.1f, 0.9f, 0.999f, 1e-7f), (adamW.WeightDecay, adamW.Beta1, adamW.Beta2, adamW.Epsilon));
        Assert.Equal(0.004f, new AdamW().WeightDecay);
        adamW.Prepare(2);
        float[] p = [1f, -2f];
        float[][] grads = [[0.5f, -1e-3f], [0.25f, 2f]];
        double[] expected = [1, -2], m = [0, 0], v = [0, 0];
        for (int t = 1; t <= 2; t++)
        {
            double lr = t == 1 ? 0.01 : 0.005;
            adamW.Step(p, grads[t - 1], WorkerPool.ForThreads(1));
            double alpha = lr * Math.Sqrt(1 - Math.Pow(0.999, t)) / (1 - Math.Pow(0.9, t));
            for (int i = 0; i < 2; i++)
            {
                expected[i] -= expected[i] * 0.1 * lr;
                double g = grads[t - 1][i];
                m[i] += (g - m[i]) * 0.1;
                v[i] += (g * g - v[i]) * 0.001;
                expected[i] -= alpha * m[i] / (Math.Sqrt(v[i]) + 1e-7);
            }
        }
        Assert.Equal(expected[0], p[0], 6);
        Assert.Equal(expected[1], p[1], 6);
    }

    [Fact]
    public void SgdFollowsItsScheduleStepByStep()
    {
        var sgd = new Sgd(new ExponentialDecay(0.1f, decaySteps: 1, decayRate: 0.5));
        sgd.Prepare(1);
        float[] p = [0f];
        sgd.Step(p, [1f], WorkerPool.ForThreads(1)); // step 0: lr 0.1
        sgd.Step(p, [1f], WorkerPool.ForThreads(1)); // step 1: lr 0.05
        Assert.Equal(-0.15, p[0], 6);
        Assert.Equal(0.025f, sgd.CurrentLearningRate, 6);
    }
}
