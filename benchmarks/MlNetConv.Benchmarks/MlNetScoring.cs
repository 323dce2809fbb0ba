using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv.Core.Data;
using MlNetConv.Core.Layers;
using MlNetConv;
using MlNetConv.Data;
using MlNetConv.Core.Training;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The ML.NET scoring paths of the same CNN: <c>Transform</c> over a data view (read through a cursor, as Evaluate
/// and the batch-scoring worker read it) and <c>PredictionEngine</c> one image at a time, to hold beside the
/// engine's own batch-32 and batch-1 figures.
/// </summary>
internal static class MlNetScoring
{
    public static (double Transform, double PredictionEngine) Measure(Dataset train, Dataset test, int threads, Layer[] layers)
    {
        var ml = new MLContext(seed: 42);
        // Scoring speed does not depend on the weights: one short epoch is enough to get a transformer.
        var trainer = ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions { Layers = layers, Epochs = 1, Threads = threads, ValidationSplit = 0 });
        var model = trainer.Fit(new DatasetDataView(train.Slice(0, Math.Min(2048, train.Count)), FashionMnist.ClassNames));
        IDataView testView = new DatasetDataView(test, FashionMnist.ClassNames);

        double TransformRound()
        {
            IDataView scored = model.Transform(testView);
            var clock = Stopwatch.StartNew();
            using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
            var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            VBuffer<float> score = default;
            long rows = 0;
            while (cursor.MoveNext())
            {
                getScore(ref score);
                rows++;
            }
            return rows / clock.Elapsed.TotalSeconds;
        }

        var engine = ml.Model.CreatePredictionEngine<ImageRow, ScoreRow>(model);
        int singles = Math.Min(2000, test.Count);
        var rows = Enumerable.Range(0, singles).Select(i => new ImageRow { Features = test.SamplesToArray(i, 1) }).ToArray();
        double EngineRound()
        {
            var clock = Stopwatch.StartNew();
            foreach (var row in rows) engine.Predict(row);
            return singles / clock.Elapsed.TotalSeconds;
        }

        TransformRound(); // warm-up
        EngineRound();
        double transform = EndToEnd.Median(Enumerable.Range(0, 3).Select(_ => TransformRound()));
        double single = EndToEnd.Median(Enumerable.Range(0, 3).Select(_ => EngineRound()));
        return (transform, single);
    }

    private sealed class ImageRow
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
