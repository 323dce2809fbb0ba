using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MlNetConv.Hosting;

/// <summary>One image's result: its predicted label and the three best (label, score) pairs.</summary>
internal readonly record struct ImagePrediction(string PredictedLabel, (string Label, float Score)[] Top);

/// <summary>
/// A loaded model zip: its id (the first 12 hex digits of its SHA-256) and the pipeline, checked at load: it must end in
/// an MlNetConv CNN (MapKeyToValue may follow it) and read image files through LoadImages. The path column is the one
/// LoadImages reads and the scores come from the CNN's own score column, whatever they are named; other input columns
/// (a text Label that training needed) are fed their defaults.
/// </summary>
internal sealed class ScoringModel
{
    private readonly MLContext ml = new();
    private readonly ITransformer pipeline;
    private readonly DataViewSchema inputSchema;
    private readonly string[] classNames;

    private ScoringModel(string path, ITransformer pipeline, DataViewSchema inputSchema, string id, DateTime written, long length)
    {
        Path = path;
        this.pipeline = pipeline;
        this.inputSchema = inputSchema;
        Id = id;
        Written = written;
        Length = length;
        ITransformer[] chain = pipeline is IEnumerable<ITransformer> steps ? [.. steps] : [pipeline];
        int last = Array.FindLastIndex(chain, t => t is ConvNetTransformer);
        if (last < 0)
            throw new InvalidDataException($"The model zip '{path}' holds no MlNetConv CNN: its transformers are {Names(chain)}.");
        if (chain.Skip(last + 1).FirstOrDefault(t => t is not KeyToValueMappingTransformer) is { } after)
            throw new InvalidDataException(
                $"The model zip '{path}' ends in {after.GetType().Name} after the CNN; the worker scores pipelines whose last transformer is the CNN " +
                $"(MapKeyToValue may follow it). Its transformers are {Names(chain)}.");
        Cnn = (ConvNetTransformer)chain[last];
        classNames = [.. Cnn.ClassNames];
        ImagePathColumn = chain.OfType<ImageLoadingTransformer>().FirstOrDefault() is { } loader
            ? ModelInput.InputColumnOf(loader)
            : throw new InvalidDataException(
                $"The model zip '{path}' does not read image files (it has no LoadImages step; its input is {Describe(inputSchema)}). " +
                "Train with LoadImages from files, e.g. the FashionMnist example's --from-png.");
        try
        {
            // Fails now, not on the first image, if the input cannot be supplied or the pipeline does not make the score column.
            DataViewSchema output = pipeline.GetOutputSchema(ModelInput.Create(ml, inputSchema, ImagePathColumn, []).Schema);
            if (output.GetColumnOrNull(Cnn.ScoreColumnName) is not { Type: VectorDataViewType })
                throw new InvalidDataException($"The model zip '{path}' does not output its CNN's score column '{Cnn.ScoreColumnName}'.");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The model zip '{path}' cannot score image files: {e.Message}", e);
        }
    }

    public string Path { get; }

    /// <summary>The first 12 hex digits of the zip's SHA-256: which model scored a result.</summary>
    public string Id { get; }

    public DateTime Written { get; }

    public long Length { get; }

    public ConvNetTransformer Cnn { get; }

    /// <summary>The input text column LoadImages reads the image paths from.</summary>
    public string ImagePathColumn { get; }

    /// <summary>Loads and checks a model zip; a missing, truncated or foreign zip throws with the path in the message.</summary>
    public static ScoringModel Load(string path, int threads)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"No model zip at '{path}'.", path);
        byte[] bytes = File.ReadAllBytes(path);
        string id = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
        // LoadConvNet throws InvalidDataException saying what is wrong (truncated, not a zip, corrupted network, newer version) and naming the path.
        ITransformer pipeline = new MLContext().Model.LoadConvNet(new MemoryStream(bytes), out DataViewSchema schema, $"'{path}'");
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
        IDataView scored = pipeline.Transform(ModelInput.Create(ml, inputSchema, ImagePathColumn, imagePaths));
        var results = new ImagePrediction[imagePaths.Count];
        int i = 0;
        foreach (float[] scores in scored.GetColumn<float[]>(Cnn.ScoreColumnName))
        {
            var top = scores.Select((s, c) => (Label: classNames[c], Score: s)).OrderByDescending(t => t.Score).Take(3).ToArray();
            results[i++] = new ImagePrediction(top[0].Label, top);
        }
        return results;
    }

    private static string Names(IEnumerable<ITransformer> chain) => string.Join(" → ", chain.Select(t => t.GetType().Name));

    private static string Describe(DataViewSchema schema) => string.Join(", ", schema.Select(c => $"{c.Name} ({c.Type})"));
}
