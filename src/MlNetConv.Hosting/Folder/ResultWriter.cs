using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlNetConv.Hosting;

/// <summary>
/// Writes a batch's results to "results-&lt;batch&gt;.jsonl" or ".csv" in the outbox: first to a hidden temporary file,
/// then renamed, so a reader never sees half a result file; the rename is also the batch's commit.
/// </summary>
internal static class ResultWriter
{
    /// <summary>The hidden temporary name a result file is written under before its rename.</summary>
    public static string TemporaryName(string resultName) => "." + resultName + ".tmp";

    /// <summary>Writes the scored outcomes (a line each: the image's file name, label, top 3, model id and time).</summary>
    public static void Write(string outbox, string batchId, ResultFormat format, IReadOnlyList<ScoringOutcome> results)
    {
        string final = Path.Combine(outbox, ClaimStore.ResultName(batchId, format));
        string temporary = Path.Combine(outbox, TemporaryName(Path.GetFileName(final)));
        using (var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(false)))
        {
            if (format == ResultFormat.Csv) writer.WriteLine("file,predicted_label,label_1,score_1,label_2,score_2,label_3,score_3,model_id,time");
            foreach (var r in results) writer.WriteLine(format == ResultFormat.Csv ? Csv(r) : Json(r));
            writer.Flush();
            ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
        }
        File.Move(temporary, final);
    }

    private static string Json(ScoringOutcome r) => JsonSerializer.Serialize(new
    {
        file = r.Id,
        predicted_label = r.Prediction!.Value.PredictedLabel,
        top = r.Prediction.Value.Top.Select(t => new { label = t.Label, score = t.Score }),
        model_id = r.ModelId,
        time = r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
    });

    private static string Csv(ScoringOutcome r)
    {
        ImagePrediction prediction = r.Prediction!.Value;
        var fields = new List<string> { r.Id, prediction.PredictedLabel };
        for (int i = 0; i < 3; i++)
        {
            fields.Add(i < prediction.Top.Length ? prediction.Top[i].Label : "");
            fields.Add(i < prediction.Top.Length ? prediction.Top[i].Score.ToString("R", CultureInfo.InvariantCulture) : "");
        }
        fields.Add(r.ModelId);
        fields.Add(r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        return string.Join(',', fields.Select(Quote));
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
