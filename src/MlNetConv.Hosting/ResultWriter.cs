using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlNetConv.Hosting;

/// <summary>One scored image: what the result files hold per line.</summary>
internal readonly record struct ScoredImage(string File, ImagePrediction Prediction, string ModelId, DateTimeOffset Time);

/// <summary>
/// Writes a batch's results to "results-&lt;batch&gt;.jsonl" or ".csv" in the outbox: first to a hidden temporary file,
/// then renamed, so a reader never sees half a result file; the rename is also the batch's commit.
/// </summary>
internal static class ResultWriter
{
    public static void Write(string outbox, string batchId, ResultFormat format, IReadOnlyList<ScoredImage> results)
    {
        string final = Path.Combine(outbox, ClaimStore.ResultName(batchId, format));
        string temporary = Path.Combine(outbox, "." + Path.GetFileName(final) + ".tmp");
        using (var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(false)))
        {
            if (format == ResultFormat.Csv) writer.WriteLine("file,predicted_label,label_1,score_1,label_2,score_2,label_3,score_3,model_id,time");
            foreach (var r in results) writer.WriteLine(format == ResultFormat.Csv ? Csv(r) : Json(r));
            writer.Flush();
            ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
        }
        File.Move(temporary, final);
    }

    private static string Json(ScoredImage r) => JsonSerializer.Serialize(new
    {
        file = r.File,
        predicted_label = r.Prediction.PredictedLabel,
        top = r.Prediction.Top.Select(t => new { label = t.Label, score = t.Score }),
        model_id = r.ModelId,
        time = r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
    });

    private static string Csv(ScoredImage r)
    {
        var fields = new List<string> { r.File, r.Prediction.PredictedLabel };
        for (int i = 0; i < 3; i++)
        {
            fields.Add(i < r.Prediction.Top.Length ? r.Prediction.Top[i].Label : "");
            fields.Add(i < r.Prediction.Top.Length ? r.Prediction.Top[i].Score.ToString("R", CultureInfo.InvariantCulture) : "");
        }
        fields.Add(r.ModelId);
        fields.Add(r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        return string.Join(',', fields.Select(Quote));
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
