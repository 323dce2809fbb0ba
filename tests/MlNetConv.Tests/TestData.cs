using MlNetConv.Core.Data;
using MlNetConv.Tests.Shared;
using MlNetConv.Core.Training;

namespace MlNetConv.Tests;

/// <summary>The Fashion-MNIST subset the repository ships.</summary>
internal static class TestData
{
    public static string SubsetDirectory => RepositoryData.SubsetDirectory;

    public static Dataset Train => RepositoryData.Train;

    public static Dataset Test => RepositoryData.Test;
}
