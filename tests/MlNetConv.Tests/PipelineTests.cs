using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Data;

namespace MlNetConv.Tests;

[Collection(nameof(TrainedPipeline))]
public class PipelineTests(TrainedPipeline trained)
{
    [Fact]
    public void TrainsOnImageFilesAndEvaluatesWellAboveChance()
    {
        IDataView scored = trained.Model.Transform(trained.Test);
        var metrics = trained.Ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy > 0.5, $"micro-accuracy {metrics.MicroAccuracy:F3} on 300 test images (chance 0.1)");
        Assert.True(metrics.LogLoss < 1.6, $"log-loss {metrics.LogLoss:F3}");
        Assert.Equal(10, trained.Cnn.ClassNames.Count);
        Assert.Equal(FashionMnist.ClassNames.Order(), trained.Cnn.ClassNames.Order());
    }

    [Fact]
    public void OutputsAreScoreAndAKeyThatMapsBackToClassNames()
    {
        IDataView scored = trained.Model.Transform(trained.Test);
        var score = scored.Schema["Score"];
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 10), score.Type);
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        score.GetSlotNames(ref slotNames);
        Assert.Equal(trained.Cnn.ClassNames, slotNames.DenseValues().Select(v => v.ToString()));
        // MapKeyToValue turned PredictedLabel back into the original text labels.
        Assert.Equal(TextDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        string[] predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        Assert.Equal(trained.Images.TestCount, predicted.Length);
        Assert.All(predicted, p => Assert.Contains(p, FashionMnist.ClassNames));
        float[][] scores = scored.GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.Equal(1.0, scores[i].Sum(), 4);
            Assert.Equal(trained.Cnn.ClassNames[Array.IndexOf(scores[i], scores[i].Max())], predicted[i]);
        }
    }

    [Fact]
    public void ModelZipLoadsInAFreshProcessWithBitIdenticalScores()
    {
        float[] expected = trained.Model.Transform(trained.Test).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        string output = Path.Combine(trained.Images.Root, $"probe-{Guid.NewGuid():N}.bin");
        string probe = Path.Combine(AppContext.BaseDirectory, "MlNetConv.LoadProbe.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { probe, trained.ModelPath, trained.Images.Test, output }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"the probe failed:\n{stdout}\n{stderr}");
        Assert.Contains("MlNetConv loaded before Model.Load: False", stdout);
        Assert.Contains("MlNetConv loaded after Model.Load: True", stdout);
        byte[] bytes = File.ReadAllBytes(output);
        float[] actual = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, actual, 0, bytes.Length);
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.AsSpan().SequenceEqual(actual), "scores after loading in a fresh process differ from the trained model's");
    }

    [Fact]
    public void LoadedModelWorksWithPredictionEngine()
    {
        ITransformer loaded = trained.Ml.Model.Load(trained.ModelPath, out _);
        var engine = trained.Ml.Model.CreatePredictionEngine<ImageRow, Prediction>(loaded);
        var rows = trained.Ml.Data.CreateEnumerable<ImageRow>(trained.Test, reuseRowObject: false).Take(20).ToArray();
        string[] batch = trained.Model.Transform(trained.Ml.Data.LoadFromEnumerable(rows)).GetColumn<string>("PredictedLabel").ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            Prediction p = engine.Predict(new ImageRow { ImagePath = rows[i].ImagePath });
            Assert.Equal(batch[i], p.PredictedLabel);
            Assert.Equal(10, p.Score.Length);
        }
    }

    public sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";

        public float[] Score { get; set; } = [];
    }
}
