using MlNetConv.Core.Data;

namespace MlNetConv.Tests.Shared;

/// <summary>The Fashion-MNIST subset the repository ships (data/fashion-mnist-subset), found above the test's folder and loaded once.</summary>
internal static class RepositoryData
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Subset = new(() => FashionMnist.Load(SubsetDirectory));

    public static string SubsetDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data", "fashion-mnist-subset");
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("data/fashion-mnist-subset not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>tests/Fixtures: files written by earlier versions of MlNetConv, which this one must still read.</summary>
    public static string FixturesDirectory => Path.GetFullPath(Path.Combine(SubsetDirectory, "..", "..", "tests", "Fixtures"));

    /// <summary>
    /// The float32 scores stored beside a fixture for the SIMD width this process computes with (each width rounds its
    /// sums in its own order, so each has its own file): <c>{name}.scores.{width}.bin</c>.
    /// </summary>
    public static float[] FixtureScores(string name)
    {
        string path = Path.Combine(FixturesDirectory, $"{name}.scores.{MlNetConv.Core.Kernels.Simd.Best}.bin");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
    }

    /// <summary>10,000 training images.</summary>
    public static Dataset Train => Subset.Value.Train;

    /// <summary>2,000 test images.</summary>
    public static Dataset Test => Subset.Value.Test;
}
