using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MlNetConv.Hosting;

/// <summary>One image's result: its predicted label and the three best (label, score) pairs.</summary>
internal readonly record struct ImagePrediction(string PredictedLabel, (string Label, float Score)[] Top);

/// <summary>
/// A loaded model zip: its id (the first 12 hex digits of its SHA-256) and the pipeline, checked at load: it must end in
/// an MlNetConv CNN (MapKeyToValue may follow it) and read image files through LoadImages. The scores come from the
/// CNN's own score column, whatever it is named; other input columns (a text Label that training needed) are fed their
/// defaults. Images arrive decoded (<see cref="ImageDecoder"/>): the steps before LoadImages run on the defaults, the
/// decoded images take LoadImages's place, and the steps after it run as trained, so each image is decoded once.
/// </summary>
internal sealed class ScoringModel
{
    private readonly MLContext ml = new();
    private readonly ITransformer pipeline;
    private readonly DataViewSchema inputSchema;
    private readonly string[] classNames;
    private readonly ITransformer[] beforeLoader, afterLoader;
    private readonly string imageColumn;
    private readonly DataViewType imageType;

    private ScoringModel(string path, ITransformer pipeline, DataViewSchema inputSchema, string id, DateTime written, long length)
    {
        Path = path;
        this.pipeline = pipeline;
        this.inputSchema = inputSchema;
        Id = id;
        Written = written;
        Length = length;
        // Chains nest when an estimator typed IEstimator<ITransformer> is appended to (as the FashionMnist example does).
        ITransformer[] chain = [.. Steps(pipeline)];
        int last = Array.FindLastIndex(chain, t => t is ConvNetTransformer);
        if (last < 0)
            throw new InvalidDataException($"The model zip '{path}' holds no MlNetConv CNN: its transformers are {Names(chain)}.");
        if (chain.Skip(last + 1).FirstOrDefault(t => t is not KeyToValueMappingTransformer) is { } after)
            throw new InvalidDataException(
                $"The model zip '{path}' ends in {after.GetType().Name} after the CNN; the worker scores pipelines whose last transformer is the CNN " +
                $"(MapKeyToValue may follow it). Its transformers are {Names(chain)}.");
        Cnn = (ConvNetTransformer)chain[last];
        classNames = [.. Cnn.ClassNames];
        int loaderIndex = Array.FindIndex(chain, t => t is ImageLoadingTransformer);
        if (loaderIndex < 0 || loaderIndex > last)
            throw new InvalidDataException(
                $"The model zip '{path}' does not read image files (it has no LoadImages step before its CNN; its input is {Describe(inputSchema)}). " +
                "Train with LoadImages from files, e.g. the FashionMnist example's --from-png.");
        var loader = (ImageLoadingTransformer)chain[loaderIndex];
        var loaded = ModelInput.ColumnPairsOf(loader);
        if (loaded.Count != 1)
            throw new InvalidDataException($"The model zip '{path}' loads {loaded.Count} image columns; the worker scores pipelines that load one.");
        (imageColumn, ImagePathColumn) = loaded[0];
        beforeLoader = chain[..loaderIndex];
        afterLoader = chain[(loaderIndex + 1)..];
        try
        {
            // Fails now, not on the first image, if the input cannot be supplied or the pipeline does not make the score column.
            IDataView input = ModelInput.Create(ml, inputSchema, ImagePathColumn, []);
            DataViewSchema loaderInput = beforeLoader.Aggregate(input.Schema, (schema, step) => step.GetOutputSchema(schema));
            imageType = loader.GetOutputSchema(loaderInput)[imageColumn].Type;
            DataViewSchema output = pipeline.GetOutputSchema(input.Schema);
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

    /// <summary>The input text column LoadImages reads the image paths from (given the images' names here).</summary>
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

    /// <summary>Scores decoded images (named, for the path column, by <paramref name="names"/>) in one batched pass.</summary>
    public ImagePrediction[] Score(IReadOnlyList<string> names, IReadOnlyList<MLImage> images)
    {
        IDataView view = beforeLoader.Aggregate(ModelInput.Create(ml, inputSchema, ImagePathColumn, names), (data, step) => step.Transform(data));
        view = new ImageColumnDataView(view, imageColumn, imageType, images);
        IDataView scored = afterLoader.Aggregate(view, (data, step) => step.Transform(data));
        var results = new ImagePrediction[images.Count];
        int i = 0;
        foreach (float[] scores in scored.GetColumn<float[]>(Cnn.ScoreColumnName))
        {
            var top = scores.Select((s, c) => (Label: classNames[c], Score: s)).OrderByDescending(t => t.Score).Take(3).ToArray();
            results[i++] = new ImagePrediction(top[0].Label, top);
        }
        return results;
    }

    private static IEnumerable<ITransformer> Steps(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Steps) : [transformer];

    private static string Names(IEnumerable<ITransformer> chain) => string.Join(" → ", chain.Select(t => t.GetType().Name));

    private static string Describe(DataViewSchema schema) => string.Join(", ", schema.Select(c => $"{c.Name} ({c.Type})"));
}
