using System.Globalization;
using System.Text.Json;

namespace MlNetConv.Hosting.Tests;

/// <summary>The result files' formats, with names and labels that need escaping or quoting.</summary>
public sealed class ResultWriterTests : IDisposable
{
    private readonly string outbox = Directory.CreateTempSubdirectory("mlnetconv-results").FullName;

    private static readonly ScoringOutcome[] Outcomes =
    [
        new("plain.png", new ImagePrediction("Sneaker", [("Sneaker", 0.875f), ("Sandal", 0.1f), ("Bag", 1.5e-7f)]), null, "model-1",
            new DateTimeOffset(2026, 11, 29, 20, 5, 0, 123, TimeSpan.FromHours(2))),
        new("quote \"and\", comma\nnew line ü <tag> & 'x' +.png", new ImagePrediction("T-shirt/top", [("T-shirt/top", 1f)]), null, "m\\odel ✓",
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)),
    ];

    public void Dispose() => Directory.Delete(outbox, recursive: true);

    [Fact]
    public void JsonLinesAreWhatJsonSerializerWritesForTheDocumentedShape()
    {
        ResultWriter.Write(outbox, "b1", ResultFormat.JsonLines, Outcomes);

        Assert.Equal(["results-b1.jsonl"], Directory.GetFiles(outbox).Select(Path.GetFileName)); // no temporary left
        string text = File.ReadAllText(Path.Combine(outbox, "results-b1.jsonl"));
        string[] expected = [.. Outcomes.Select(r => JsonSerializer.Serialize(new
        {
            file = r.Id,
            predicted_label = r.Prediction!.Value.PredictedLabel,
            top = r.Prediction.Value.Top.Select(t => new { label = t.Label, score = t.Score }),
            model_id = r.ModelId,
            time = r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        }))];
        Assert.Equal(string.Join('\n', expected) + "\n", text);

        using var second = JsonDocument.Parse(text.Split('\n')[1]);
        Assert.Equal(Outcomes[1].Id, second.RootElement.GetProperty("file").GetString());
        Assert.Equal("2026-01-02T03:04:05.0000000Z", second.RootElement.GetProperty("time").GetString());
        using var first = JsonDocument.Parse(text.Split('\n')[0]);
        Assert.Equal(1.5e-7f, first.RootElement.GetProperty("top")[2].GetProperty("score").GetSingle()); // the float round-trips
        Assert.Equal("2026-11-29T18:05:00.1230000Z", first.RootElement.GetProperty("time").GetString());
    }

    [Fact]
    public void CsvHasAHeaderAndQuotesWhatNeedsIt()
    {
        ResultWriter.Write(outbox, "b2", ResultFormat.Csv, Outcomes);

        Assert.Equal(["results-b2.csv"], Directory.GetFiles(outbox).Select(Path.GetFileName));
        string nl = Environment.NewLine;
        Assert.Equal(
            "file,predicted_label,label_1,score_1,label_2,score_2,label_3,score_3,model_id,time" + nl +
            "plain.png,Sneaker,Sneaker,0.875,Sandal,0.1,Bag,1.5E-07,model-1,2026-11-29T18:05:00.1230000Z" + nl +
            "\"quote \"\"and\"\", comma\nnew line ü <tag> & 'x' +.png\",T-shirt/top,T-shirt/top,1,,,,,m\\odel ✓,2026-01-02T03:04:05.0000000Z" + nl,
            File.ReadAllText(Path.Combine(outbox, "results-b2.csv")));
    }
}
