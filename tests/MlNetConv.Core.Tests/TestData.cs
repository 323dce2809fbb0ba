using MlNetConv.Core.Data;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Real Fashion-MNIST images from the subset the repository ships, loaded once per test run.</summary>
internal static class TestData
{
    public static string SubsetDirectory => MlNetConv.Tests.Shared.RepositoryData.SubsetDirectory;

    public static Dataset Train => MlNetConv.Tests.Shared.RepositoryData.Train;

    public static Dataset Test => MlNetConv.Tests.Shared.RepositoryData.Test;

    /// <summary>Uniform values in [−scale, scale) from a fixed seed.</summary>
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return values;
    }

    /// <summary>Asserts |a − b| ≤ tolerance·max(1, |b|) element by element, naming the first index that differs.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float limit = tolerance * Math.Max(1f, Math.Abs(expected[i]));
            if (!(Math.Abs(expected[i] - actual[i]) <= limit))
                Assert.Fail($"{what}: element {i} is {actual[i]}, expected {expected[i]} (tolerance {limit}).");
        }
    }

    /// <summary>The values' bit patterns, for comparisons that tell +0 from −0 and one NaN from another.</summary>
    public static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }
}
