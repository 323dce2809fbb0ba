using MlNetConv.Tests.Shared;

namespace MlNetConv.Core.Tests;

/// <summary>A network file written by MlNetConv 1.0 (format version 1) loads and scores exactly as it did then.</summary>
public class FormatFixtureTests
{
    [Fact]
    public void AVersion1NetworkFileScoresBitIdentically()
    {
        Sequential model = Sequential.Load(Path.Combine(RepositoryData.FixturesDirectory, "network-v1.mlnc"));
        Assert.Equal(["conv2d", "max_pooling2d", "conv2d_1", "average_pooling2d", "flatten", "dense", "dropout", "dense_1", "activation"],
            model.Layers.Select(l => l.Name));
        Assert.Equal(2392, model.ParameterCount);
        float[] scores = model.Predict(TestData.Test.SamplesToArray(0, 16));
        Assert.Equal(RepositoryData.FixtureScores("network-v1"), scores);
    }
}
