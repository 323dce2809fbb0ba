using MlNetConv.Data;
using MlNetConv.Training;

namespace MlNetConv.ML.Tests;

/// <summary>The Fashion-MNIST subset the repository ships, loaded once.</summary>
internal static class TestData
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Subset = new(() => FashionMnist.Load(SubsetDirectory));

    /// <summary>data/fashion-mnist-subset, found above the test's folder.</summary>
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

    public static Dataset Train => Subset.Value.Train;

    public static Dataset Test => Subset.Value.Test;
}
