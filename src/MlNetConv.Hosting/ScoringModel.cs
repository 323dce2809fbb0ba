using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetConv;

namespace MlNetConv.Hosting;

/// <summary>One image's result: its predicted label and the three best (label, score) pairs.</summary>
internal readonly record struct ImagePrediction(string PredictedLabel, (string Label, float Score)[] Top);

/// <summary>
/// A loaded model zip: its id (the first 12 hex digits of its SHA-256) and the pipeline. The model's input must be an
/// "ImagePath" text column (the LoadImages pipeline the README trains); a "Label" text input is fed empty.
/// </summary>
internal sealed class ScoringModel
{
    private readonly MLContext ml = new();
    private readonly ITransformer pipeline;
    private readonly string[] classNames;

    private ScoringModel(string path, ITransformer pipeline, DataViewSchema inputSchema, string id, DateTime written, long length)
    {
        Path = path;
        this.pipeline = pipeline;
        Id = id;
        Written = written;
        Length = length;
        var cnn = ((IEnumerable<ITransformer>)pipeline).OfType<ConvNetTransformer>().LastOrDefault()
            ?? (pipeline as ConvNetTransformer)
            ?? throw new InvalidDataException($"The model zip '{path}' holds no MlNetConv CNN.");
        classNames = [.. cnn.ClassNames];
        if (inputSchema.GetColumnOrNull("ImagePath") is not { Type: TextDataViewType })
            throw new InvalidDataException(
                $"The model zip '{path}' takes {string.Join(", ", inputSchema.Select(c => $"{c.Name} ({c.Type})"))}; the worker needs an 'ImagePath' text input " +
                "(train with LoadImages from files, e.g. the FashionMnist example's --from-png).");
        Cnn = cnn;
    }

    public string Path { get; }

    /// <summary>The first 12 hex digits of the zip's SHA-256: which model scored a result.</summary>
    public string Id { get; }

    public DateTime Written { get; }

    public long Length { get; }

    public ConvNetTransformer Cnn { get; }

    /// <summary>Loads and checks a model zip; a missing, truncated or foreign zip throws with the path in the message.</summary>
    public static ScoringModel Load(string path, int threads)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"No model zip at '{path}'.", path);
        byte[] bytes = File.ReadAllBytes(path);
        string id = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
        ITransformer pipeline;
        DataViewSchema schema;
        try
        {
            pipeline = new MLContext().Model.Load(new MemoryStream(bytes), out schema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a loadable ML.NET model zip: {e.Message}", e);
        }
        var model = new ScoringModel(path, pipeline, schema, id, info.LastWriteTimeUtc, info.Length);
        model.Cnn.Threads = threads;
        return model;
    }

    /// <summary>Whether the zip on disk differs from the one loaded (replaced or rewritten).</summary>
    public bool IsStale()
    {
        var info = new FileInfo(Path);
        return info.Exists && (info.LastWriteTimeUtc != Written || info.Length != Length);
    }

    /// <summary>Scores image files (already known to decode) in one batched pass through the pipeline.</summary>
    public ImagePrediction[] Score(IReadOnlyList<string> imagePaths)
    {
        IDataView rows = ml.Data.LoadFromEnumerable(imagePaths.Select(p => new Row { ImagePath = p }));
        IDataView scored = pipeline.Transform(rows);
        var results = new ImagePrediction[imagePaths.Count];
        int i = 0;
        foreach (float[] scores in scored.GetColumn<float[]>("Score"))
        {
            var top = scores.Select((s, c) => (Label: classNames[c], Score: s)).OrderByDescending(t => t.Score).Take(3).ToArray();
            results[i++] = new ImagePrediction(top[0].Label, top);
        }
        return results;
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }
}
