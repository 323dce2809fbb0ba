using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MlNetConv.Core;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Onnx;

namespace MlNetConv;

/// <summary>
/// The activations of one layer of a trained network as a column: feature maps of a Conv2D or pooling layer as
/// <c>Vector&lt;Single, C, H, W&gt;</c> (channels first), or a flat layer's values as an embedding. Inference mode
/// (dropout off). Made by <c>mlContext.Transforms.ConvNetFeatureMaps</c>; saved in and loaded from model zips.
/// </summary>
public sealed class FeatureMapTransformer : NetworkTransformerBase
{
    internal const string UserName = "MlNetConv feature maps";
    internal const string LoaderSignature = "MlNetConvFeatureMaps";

    internal FeatureMapTransformer(IHostEnvironment env, Sequential network, string layerName, string outputColumnName, string featureColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(FeatureMapTransformer)), network, featureColumnName)
    {
        Layer = Network.GetLayer(layerName);
        OutputColumnName = outputColumnName;
    }

    /// <summary>The layer whose output this transformer exposes.</summary>
    public LayerInfo Layer { get; }

    /// <summary>The column the activations go to.</summary>
    public string OutputColumnName { get; }

    // *** Version history ***
    // 0x00010001: initial. Strings: layer name, output column name, feature column name. Binary stream "Network.bin": the network.
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "MLNCFMAP",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(FeatureMapTransformer).Assembly.GetName().Name);

    // *** Binary format ***
    // string (non-empty): layer name
    // string (non-empty): output column name
    // string (non-empty): feature column name
    // stream "Network.bin": the network, architecture and weights
    /// <inheritdoc />
    protected override void SaveModel(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(Layer.Name);
        ctx.SaveNonEmptyString(OutputColumnName);
        ctx.SaveNonEmptyString(FeatureColumnName);
        SaveNetwork(ctx);
    }

    private static FeatureMapTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        CheckReadable(ctx, GetVersionInfo(), "MlNetConv feature maps");
        string layer = ctx.LoadNonEmptyString(), output = ctx.LoadNonEmptyString(), feature = ctx.LoadNonEmptyString();
        return new FeatureMapTransformer(env, LoadNetwork(ctx), layer, output, feature);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema) =>
        Create(env, ctx).MakeRowMapper(inputSchema);

    private protected override int OutputSize => Layer.OutputShape.Size;

    private protected override void ScoreRows(ReadOnlySpan<float> features, Span<float> outputs) =>
        Engine.PredictLayer(features, Layer.Name).CopyTo(outputs);

    private protected override DataViewSchema.DetachedColumn[] CreateOutputColumns()
    {
        var shape = Layer.OutputShape;
        var type = shape.Rank == 3
            ? new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width)
            : new VectorDataViewType(NumberDataViewType.Single, shape.Size);
        return [new DataViewSchema.DetachedColumn(OutputColumnName, type)];
    }

    private protected override Delegate CreateOutputGetter(int index, IScoredRow row) => VectorGetter(row);

    // The network's layers up to this one.
    private protected override void SaveOutputsAsOnnx(OnnxContext ctx, IOnnxGraph graph, string input)
    {
        string output = ctx.AddIntermediateVariable(CreateOutputColumns()[0].Type, OutputColumnName);
        string activations = OnnxExport.AddNetwork(Engine, graph, input, through: Engine.GetLayer(Layer.Name));
        ctx.CreateNode("Identity", activations, output, ctx.GetNodeName("MlNetConv/feature_maps"), "");
    }
}

/// <summary>
/// Estimator of <see cref="FeatureMapTransformer"/>: it trains nothing, it exposes a layer of an already trained network.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Known-size vector of Single (C·H·W) |
/// | Output column data type | Vector of Single: (C, H, W) feature maps or a flat layer's values |
/// | Required NuGet in addition to Microsoft.ML | MlNetConv |
/// | Exportable to ONNX | Yes |
/// ]]></format>
/// </remarks>
public sealed class FeatureMapEstimator : IEstimator<FeatureMapTransformer>
{
    private readonly FeatureMapTransformer transformer;

    internal FeatureMapEstimator(IHostEnvironment env, Sequential network, string layerName, string outputColumnName, string featureColumnName) =>
        transformer = new FeatureMapTransformer(env, network, layerName, outputColumnName, featureColumnName);

    /// <summary>Returns the transformer; the data is only checked.</summary>
    public FeatureMapTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        transformer.CheckFeatureColumn(input.Schema);
        return transformer;
    }

    /// <summary>Adds the activation column after checking the feature column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (!inputSchema.TryFindColumn(transformer.FeatureColumnName, out var feature))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The input has no feature column '{transformer.FeatureColumnName}'.");
        if (feature.Kind != SchemaShape.Column.VectorKind.Vector || feature.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Schema mismatch for feature column '{transformer.FeatureColumnName}': expected a known-size vector of Single, got {feature.GetTypeString()}.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[transformer.OutputColumnName] = new SchemaShape.Column(transformer.OutputColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }
}
