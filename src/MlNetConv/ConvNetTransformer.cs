using System.Numerics.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetConv.Core;
using MlNetConv.Core.Onnx;

namespace MlNetConv;

/// <summary>
/// A trained CNN as an ML.NET transformer: reads the feature column (C·H·W floats per row, channels first, as
/// ExtractPixels writes them) and adds <c>Score</c> (class probabilities, slot names = class names) and
/// <c>PredictedLabel</c> (a key over the training label's values), the columns multiclass evaluation and
/// MapKeyToValue expect. Saved inside ML.NET model zips and loaded back by <c>mlContext.Model.Load</c>.
/// </summary>
public sealed class ConvNetTransformer : NetworkTransformerBase
{
    internal const string UserName = "MlNetConv CNN";
    internal const string LoaderSignature = "MlNetConvCnnTransformer";

    private readonly string[] classNames;

    internal ConvNetTransformer(IHostEnvironment env, Sequential network, IReadOnlyList<string> classNames,
        string featureColumnName, string scoreColumnName, string predictedLabelColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(ConvNetTransformer)), network, featureColumnName)
    {
        this.classNames = [.. classNames];
        if (this.classNames.Length != network.ClassCount)
            throw new ArgumentException($"The network scores {network.ClassCount} classes but {this.classNames.Length} class names were given.");
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The class names by class index, captured from the training label's key values.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>The output column of class probabilities.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The output key column of the most probable class.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>
    /// Writes the network as an ONNX model (<see cref="OnnxExport"/>): input <c>input</c>, (N, C, H, W) floats holding what
    /// the feature column holds (e.g. ExtractPixels's values); outputs <c>probabilities</c> (N, classes) and
    /// <c>class_index</c> (N) int64, counting from 0 in <see cref="ClassNames"/> order; the class names in the metadata
    /// (unless <paramref name="options"/> gives others). Image loading and resizing stay outside: ONNX cannot express them.
    /// To convert a whole pipeline whose steps can all be ONNX, use ML.NET's <c>mlContext.Model.ConvertToOnnx</c>.
    /// </summary>
    public void ExportToOnnx(Stream stream, OnnxExportOptions? options = null) => Engine.ExportToOnnx(stream, WithClassNames(options));

    /// <summary>Writes the network as an ONNX model to the file at <paramref name="path"/> (created or replaced); see <see cref="ExportToOnnx(Stream, OnnxExportOptions?)"/>.</summary>
    public void ExportToOnnx(string path, OnnxExportOptions? options = null) => Engine.ExportToOnnx(path, WithClassNames(options));

    private OnnxExportOptions WithClassNames(OnnxExportOptions? options) =>
        options is { ClassNames: not null } ? options : (options ?? new OnnxExportOptions()) with { ClassNames = classNames };

    // *** Version history ***
    // 0x00010001: initial. Strings: feature, score and predicted-label column names, then the class names.
    //             Main stream: int32 class count. Binary stream "Network.bin": the network (MlNetConv.Core.Serialization.NetworkFormat).
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MLNCCNNT",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(ConvNetTransformer).Assembly.GetName().Name);

    // *** Binary format ***
    // string (non-empty): feature column name
    // string (non-empty): score column name
    // string (non-empty): predicted-label column name
    // int32: class count K
    // K strings: class names
    // stream "Network.bin": the network, architecture and weights (versioned and checksummed on its own)
    /// <inheritdoc />
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
        SaveNetwork(ctx);
    }

    // Called by ML.NET when it loads a model zip (registered by LoadableClass in Properties/AssemblyInfo.cs).
    private static ConvNetTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        CheckReadable(ctx, GetVersionInfo(), "an MlNetConv CNN");
        string feature = ctx.LoadNonEmptyString(), score = ctx.LoadNonEmptyString(), predicted = ctx.LoadNonEmptyString();
        int classes = ctx.Reader.ReadInt32();
        if (classes < 2 || classes > 1 << 20) throw new InvalidDataException($"The model zip's CNN claims {classes} classes.");
        var names = new string[classes];
        for (int i = 0; i < classes; i++) names[i] = ctx.LoadString() ?? throw new InvalidDataException($"Class name {i} is missing from the model zip.");
        return new ConvNetTransformer(env, LoadNetwork(ctx), names, feature, score, predicted);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema) =>
        Create(env, ctx).MakeRowMapper(inputSchema);

    private protected override int OutputSize => classNames.Length;

    private protected override void ScoreRows(ReadOnlySpan<float> features, Span<float> outputs) => Engine.Predict(features, outputs);

    private protected override DataViewSchema.DetachedColumn[] CreateOutputColumns()
    {
        int k = classNames.Length;
        var namesType = new VectorDataViewType(TextDataViewType.Instance, k);
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getNames = (ref VBuffer<ReadOnlyMemory<char>> names) =>
        {
            var editor = VBufferEditor.Create(ref names, k);
            for (int i = 0; i < k; i++) editor.Values[i] = classNames[i].AsMemory();
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
            new DataViewSchema.DetachedColumn(ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), score.ToAnnotations()),
            new DataViewSchema.DetachedColumn(PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), predicted.ToAnnotations()),
        ];
    }

    // Score: the network's last values; PredictedLabel: ArgMax + 1 as a uint32 key, as ML.NET's multiclass scorers write it.
    private protected override void SaveOutputsAsOnnx(OnnxContext ctx, IOnnxGraph graph, string input)
    {
        DataViewSchema.DetachedColumn[] columns = CreateOutputColumns();
        string score = ctx.AddIntermediateVariable(columns[0].Type, ScoreColumnName);
        ctx.CreateNode("Identity", OnnxExport.AddNetwork(Engine, graph, input), score, ctx.GetNodeName("MlNetConv/score"), "");
        string index = ctx.AddIntermediateVariable(NumberDataViewType.Int64, "MlNetConv/class_index");
        OnnxNode argMax = ctx.CreateNode("ArgMax", score, index, ctx.GetNodeName("MlNetConv/argmax"), "");
        argMax.AddAttribute("axis", 1L);
        argMax.AddAttribute("keepdims", 1L);
        string key = ctx.AddIntermediateVariable(NumberDataViewType.Int64, "MlNetConv/key");
        ctx.CreateNode("Add", [index, ctx.AddInitializer(1L, "MlNetConv/one")], [key], ctx.GetNodeName("MlNetConv/add"), "");
        string predicted = ctx.AddIntermediateVariable(columns[1].Type, PredictedLabelColumnName);
        ctx.CreateNode("Cast", key, predicted, ctx.GetNodeName("MlNetConv/cast"), "").AddAttribute("to", typeof(uint));
    }

    // Column 0: the probabilities; column 1: the most probable class as a key (keys count from 1; 0 means missing).
    private protected override Delegate CreateOutputGetter(int index, IScoredRow row) => index == 0
        ? VectorGetter(row)
        : (ValueGetter<uint>)((ref uint value) => value = (uint)TensorPrimitives.IndexOfMax(row.Outputs()) + 1);
}
