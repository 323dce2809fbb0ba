using MlNetConv.Core.Data;
using MlNetConv.Core.Training;

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

    /// <summary>10,000 training images.</summary>
    public static Dataset Train => Subset.Value.Train;

    /// <summary>2,000 test images.</summary>
    public static Dataset Test => Subset.Value.Test;
}
