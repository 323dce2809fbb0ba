using System.Numerics.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MlNetConv.Tensors;

namespace MlNetConv.ML;

/// <summary>
/// A trained CNN as an ML.NET transformer: reads the feature column (C·H·W floats per row, channels first, as
/// ExtractPixels writes them) and adds <c>Score</c> (class probabilities, slot names = class names) and
/// <c>PredictedLabel</c> (a key over the training label's values), the columns multiclass evaluation and
/// MapKeyToValue expect. Saved inside ML.NET model zips and loaded back by <c>mlContext.Model.Load</c>.
/// </summary>
public sealed class ConvNetTransformer : RowToRowTransformerBase
{
    internal const string UserName = "MlNetConv CNN";
    internal const string LoaderSignature = "MlNetConvCnnTransformer";

    private readonly string[] classNames;

    internal ConvNetTransformer(IHostEnvironment env, Sequential network, IReadOnlyList<string> classNames,
        string featureColumnName, string scoreColumnName, string predictedLabelColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(ConvNetTransformer)))
    {
        Network = network;
        this.classNames = [.. classNames];
        if (this.classNames.Length != network.ClassCount)
            throw new ArgumentException($"The network scores {network.ClassCount} classes but {this.classNames.Length} class names were given.");
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The trained network (layers, weights, summary).</summary>
    public Sequential Network { get; }

    /// <summary>The class names by class index, captured from the training label's key values.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>The input column: C·H·W floats per row.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The output column of class probabilities.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The output key column of the most probable class.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>One input image's shape (C, H, W).</summary>
    public Shape InputShape => Network.InputShape;

    // *** Version history ***
    // 0x00010001: initial. Strings: feature, score and predicted-label column names, then the class names.
    //             Main stream: int32 class count. Binary stream "Network.bin": the network (MlNetConv.Serialization.NetworkFormat).
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MLNCCNNT",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(ConvNetTransformer).Assembly.GetName().Name);

    private const string NetworkStreamName = "Network.bin";

    // *** Binary format ***
    // string (non-empty): feature column name
    // string (non-empty): score column name
    // string (non-empty): predicted-label column name
    // int32: class count K
    // K strings: class names
    // stream "Network.bin": the network, architecture and weights (versioned and checksummed on its own)
    protected override void SaveModel(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(FeatureColumnName);
        ctx.SaveNonEmptyString(ScoreColumnName);
        ctx.SaveNonEmptyString(PredictedLabelColumnName);
        ctx.Writer.Write(classNames.Length);
        foreach (string name in classNames) ctx.SaveString(name);
        ctx.SaveBinaryStream(NetworkStreamName, writer => Network.Save(writer.BaseStream));
    }

    // Called by ML.NET when it loads a model zip (registered by LoadableClass in Properties/AssemblyInfo.cs).
    private static ConvNetTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        // ML.NET's rule: a newer writer states the oldest reader that can still read it.
        uint readable = ctx.Header.ModelVerReadable;
        if (readable > GetVersionInfo().VerWrittenCur)
            throw new InvalidDataException(
                $"The model zip holds an MlNetConv CNN in format 0x{ctx.Header.ModelVerWritten:x8}, which needs a reader of format 0x{readable:x8} or newer; " +
                $"this MlNetConv reads up to 0x{GetVersionInfo().VerWrittenCur:x8}. Update MlNetConv to load it.");
        ctx.CheckAtModel(GetVersionInfo());
        string feature = ctx.LoadNonEmptyString(), score = ctx.LoadNonEmptyString(), predicted = ctx.LoadNonEmptyString();
        int classes = ctx.Reader.ReadInt32();
        if (classes < 2 || classes > 1 << 20) throw new InvalidDataException($"The model zip's CNN claims {classes} classes.");
        var names = new string[classes];
        for (int i = 0; i < classes; i++) names[i] = ctx.LoadString() ?? throw new InvalidDataException($"Class name {i} is missing from the model zip.");
        Sequential? network = null;
        if (!ctx.TryLoadBinaryStream(NetworkStreamName, reader => network = Sequential.Load(reader.BaseStream)) || network is null)
            throw new InvalidDataException($"The model zip's CNN has no '{NetworkStreamName}' entry: the zip is incomplete.");
        return new ConvNetTransformer(env, network, names, feature, score, predicted);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema) =>
        Create(env, ctx).MakeRowMapper(inputSchema);

    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>Checks the feature column and returns its index; the error names the column, expected and actual type.</summary>
    internal int CheckFeatureColumn(DataViewSchema schema)
    {
        if (schema.GetColumnOrNull(FeatureColumnName) is not { } column)
            throw new ArgumentOutOfRangeException(nameof(schema), $"The input has no feature column '{FeatureColumnName}'.");
        int size = InputShape.Size;
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType number } vector || number != NumberDataViewType.Single || vector.Size != size)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Schema mismatch for feature column '{FeatureColumnName}': expected Vector<Single, {size}> (one {InputShape} image), got {column.Type}.");
        return column.Index;
    }

    private sealed class Mapper : MapperBase
    {
        private readonly ConvNetTransformer parent;
        private readonly int featureIndex;

        public Mapper(ConvNetTransformer parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), inputSchema, parent)
        {
            this.parent = parent;
            featureIndex = parent.CheckFeatureColumn(inputSchema);
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
        {
            int k = parent.classNames.Length;
            var namesType = new VectorDataViewType(TextDataViewType.Instance, k);
            ValueGetter<VBuffer<ReadOnlyMemory<char>>> getNames = (ref VBuffer<ReadOnlyMemory<char>> names) =>
            {
                var editor = VBufferEditor.Create(ref names, k);
                for (int i = 0; i < k; i++) editor.Values[i] = parent.classNames[i].AsMemory();
                names = editor.Commit();
            };
            var score = new DataViewSchema.Annotations.Builder();
            score.Add(AnnotationUtils.Kinds.SlotNames, namesType, getNames);
            score.Add(AnnotationUtils.Kinds.TrainingLabelValues, namesType, getNames);
            score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance, AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
            score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance, AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
            var predicted = new DataViewSchema.Annotations.Builder();
            predicted.Add(AnnotationUtils.Kinds.KeyValues, namesType, getNames);
            return
            [
                new DataViewSchema.DetachedColumn(parent.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), score.ToAnnotations()),
                new DataViewSchema.DetachedColumn(parent.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), predicted.ToAnnotations()),
            ];
        }

        protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput) =>
            column => column == featureIndex && (activeOutput(0) || activeOutput(1));

        // Both output columns share one scorer, so a row is scored once whichever columns are read.
        public override Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            var scorer = new RowScorer(parent, input, featureIndex);
            return [activeOutput(0) ? ScoreGetter(scorer) : null!, activeOutput(1) ? PredictedLabelGetter(scorer) : null!];
        }

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            var scorer = new RowScorer(parent, input, featureIndex);
            return iinfo == 0 ? ScoreGetter(scorer) : PredictedLabelGetter(scorer);
        }

        private static ValueGetter<VBuffer<float>> ScoreGetter(RowScorer scorer) => (ref VBuffer<float> value) =>
        {
            ReadOnlySpan<float> probabilities = scorer.Probabilities();
            var editor = VBufferEditor.Create(ref value, probabilities.Length);
            probabilities.CopyTo(editor.Values);
            value = editor.Commit();
        };

        // Keys count from 1; 0 means missing.
        private static ValueGetter<uint> PredictedLabelGetter(RowScorer scorer) =>
            (ref uint value) => value = (uint)TensorPrimitives.IndexOfMax(scorer.Probabilities()) + 1;

        protected override void SaveModel(ModelSaveContext ctx) => parent.SaveModel(ctx);
    }

    // Scores the cursor's current row once, however many output columns ask for it.
    private sealed class RowScorer(ConvNetTransformer parent, DataViewRow input, int featureIndex)
    {
        private readonly ValueGetter<VBuffer<float>> features = input.GetGetter<VBuffer<float>>(input.Schema[featureIndex]);
        private readonly float[] dense = new float[parent.InputShape.Size];
        private readonly float[] probabilities = new float[parent.classNames.Length];
        private VBuffer<float> buffer;
        private long position = -1;

        public ReadOnlySpan<float> Probabilities()
        {
            if (position != input.Position)
            {
                features(ref buffer);
                buffer.CopyTo(dense);
                parent.Network.Predict(dense, probabilities, batchSize: 1);
                position = input.Position;
            }
            return probabilities;
        }
    }
}
