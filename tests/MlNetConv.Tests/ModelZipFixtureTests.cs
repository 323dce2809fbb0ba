using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Data;
using MlNetConv.Data;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Tests;

/// <summary>A model zip written by MlNetConv 1.0 (CNN transformer format 0x00010001) loads and scores exactly as it did then.</summary>
public class ModelZipFixtureTests
{
    [Fact]
    public void AVersion1ModelZipScoresBitIdentically()
    {
        var ml = new MLContext();
        ITransformer model = ml.Model.Load(Path.Combine(RepositoryData.FixturesDirectory, "model-v1.zip"), out _);
        var images = new DatasetDataView(RepositoryData.Test.Slice(0, 16), FashionMnist.ClassNames);
        float[] scores = model.Transform(images).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        Assert.Equal(RepositoryData.FixtureScores("model-v1"), scores);
        string[] predicted = model.Transform(images).GetColumn<string>("PredictedLabel").ToArray();
        Assert.All(predicted, p => Assert.Contains(p, FashionMnist.ClassNames));
    }
}
