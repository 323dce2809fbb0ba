using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>
/// The learning-rate schedules give the values of the formulas Keras documents (keras.optimizers.schedules), worked
/// out by hand at several steps, and refuse settings Keras refuses.
/// </summary>
public class ScheduleTests
{
    [Theory]
    [InlineData(0, 0.1, 0.1)]
    [InlineData(50, 0.0979795897, 0.1)]       // 0.1 · 0.96^0.5; the staircase has not stepped yet
    [InlineData(100, 0.096, 0.096)]
    [InlineData(250, 0.0902979, 0.09216)]     // 0.1 · 0.96^2.5 and 0.1 · 0.96^2
    public void ExponentialDecayIsInitialTimesRateToTheStepsOverDecaySteps(long step, double smooth, double staircase)
    {
        Assert.Equal(smooth, new ExponentialDecay(0.1f, decaySteps: 100, decayRate: 0.96).At(step), 6);
        Assert.Equal(staircase, new ExponentialDecay(0.1f, decaySteps: 100, decayRate: 0.96, staircase: true).At(step), 6);
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(100, 1.0)]      // step ≤ boundaries[0]
    [InlineData(101, 0.5)]
    [InlineData(110, 0.5)]
    [InlineData(111, 0.1)]      // step > boundaries[^1]
    [InlineData(1_000_000, 0.1)]
    public void PiecewiseConstantDecaySwitchesAfterEachBoundary(long step, double expected)
    {
        Assert.Equal(expected, new PiecewiseConstantDecay([100, 110], [1.0f, 0.5f, 0.1f]).At(step), 6);
    }

    [Theory]
    [InlineData(0, 0.1, 0.1)]
    [InlineData(250, 0.0853553, 0.0868198)]   // 0.1·½(1 + cos π/4); with α 0.1: 0.1·(0.9·0.853553 + 0.1)
    [InlineData(500, 0.05, 0.055)]
    [InlineData(1000, 0.0, 0.01)]
    [InlineData(5000, 0.0, 0.01)]             // past decaySteps the rate stays at α·initial
    public void CosineDecayFollowsHalfACosineToAlpha(long step, double withoutAlpha, double withAlpha)
    {
        Assert.Equal(withoutAlpha, new CosineDecay(0.1f, decaySteps: 1000).At(step), 6);
        Assert.Equal(withAlpha, new CosineDecay(0.1f, decaySteps: 1000, alpha: 0.1).At(step), 6);
    }

    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(50, 0.05)]      // linear warm-up from 0 to 0.1 over 100 steps
    [InlineData(99, 0.099)]
    [InlineData(100, 0.1)]      // the decay starts from the warm-up target
    [InlineData(600, 0.05)]
    [InlineData(1100, 0.0)]
    [InlineData(9999, 0.0)]
    public void CosineDecayWarmsUpLinearlyThenDecaysFromTheTarget(long step, double expected)
    {
        Assert.Equal(expected, new CosineDecay(0f, decaySteps: 1000, warmupTarget: 0.1f, warmupSteps: 100).At(step), 6);
    }

    [Fact]
    public void ANumberIsAConstantSchedule()
    {
        LearningRateSchedule schedule = 0.25f;
        Assert.Equal(0.25f, Assert.IsType<ConstantLearningRate>(schedule).At(12345));
    }

    [Fact]
    public void BadSettingsAreRefusedByName()
    {
        Assert.Equal("decaySteps", Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(0.1f, 0, 0.9)).ParamName);
        Assert.Equal("decaySteps", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(0.1f, -5)).ParamName);
        Assert.Equal("warmupSteps", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(0f, 100, warmupTarget: 0.1f, warmupSteps: -1)).ParamName);
        Assert.Contains("warmupTarget", Assert.Throws<ArgumentException>(() => new CosineDecay(0.1f, 100, warmupSteps: 10)).Message);
        Assert.Equal("decayRate", Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(0.1f, 10, -0.5)).ParamName);
        Assert.Contains("one more value", Assert.Throws<ArgumentException>(() => new PiecewiseConstantDecay([10], [0.1f])).Message);
        Assert.Contains("boundary 1 (5) follows 10", Assert.Throws<ArgumentException>(() => new PiecewiseConstantDecay([10, 5], [0.1f, 0.2f, 0.3f])).Message);
        Assert.Equal("step", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(0.1f, 10).At(-1)).ParamName);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(float.NaN)).ParamName);
    }
}
