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
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
        {
            if (format == ResultFormat.Csv) WriteCsv(file, results);
            else WriteJsonLines(file, results);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, final);
    }

    // One object per line, written straight to the file: {"file":…,"predicted_label":…,"top":[{"label":…,"score":…}…],
    // "model_id":…,"time":…}, escaped as JsonSerializer escapes. Serializing an anonymous object per line by reflection
    // cost a fifth of the folder worker's commit.
    private static void WriteJsonLines(Stream file, IReadOnlyList<ScoringOutcome> results)
    {
        using var json = new Utf8JsonWriter(file);
        foreach (var r in results)
        {
            ImagePrediction prediction = r.Prediction!.Value;
            json.WriteStartObject();
            json.WriteString("file", r.Id);
            json.WriteString("predicted_label", prediction.PredictedLabel);
            json.WriteStartArray("top");
            foreach (var (label, score) in prediction.Top)
            {
                json.WriteStartObject();
                json.WriteString("label", label);
                json.WriteNumber("score", score);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("model_id", r.ModelId);
            json.WriteString("time", Time(r));
            json.WriteEndObject();
            json.Flush();
            file.WriteByte((byte)'\n');
            json.Reset(); // the next line is a new JSON document
        }
    }

    private static void WriteCsv(Stream file, IReadOnlyList<ScoringOutcome> results)
    {
        using var writer = new StreamWriter(file, new UTF8Encoding(false), leaveOpen: true);
        writer.WriteLine("file,predicted_label,label_1,score_1,label_2,score_2,label_3,score_3,model_id,time");
        foreach (var r in results) writer.WriteLine(Csv(r));
    }

    // ISO 8601 round-trip form in UTC, e.g. 2026-11-29T18:05:00.1234567Z.
    private static string Time(ScoringOutcome r) => r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

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
        fields.Add(Time(r));
        return string.Join(',', fields.Select(Quote));
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
