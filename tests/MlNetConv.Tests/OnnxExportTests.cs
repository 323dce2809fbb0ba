using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetConv.Core;
using MlNetConv.Core.Data;
using MlNetConv.Core.Onnx;
using MlNetConv.Data;
using Xunit.Abstractions;
using static Microsoft.ML.Model.OnnxConverter.OnnxCSharpToProtoWrapper;

namespace MlNetConv.Tests;

/// <summary>
/// Trained models exported to ONNX score the shipped test images in ONNX Runtime as MlNetConv does: the network alone
/// (<see cref="ConvNetTransformer.ExportToOnnx(Stream, OnnxExportOptions?)"/>) through ML.NET's ApplyOnnxModel one row at
/// a time and through an InferenceSession in one batch of all rows, and whole IDX pipelines through ML.NET's ConvertToOnnx.
/// </summary>
public sealed class OnnxExportTests(ITestOutputHelper output) : IDisposable
{
    private const float Tolerance = 1e-5f;

    private readonly MLContext ml = new(seed: 1);
    private readonly string folder = Directory.CreateTempSubdirectory("mlnetconv-onnx-").FullName;
    private readonly IDataView train = new DatasetDataView(TestData.Train.Slice(0, 3000), FashionMnist.ClassNames);
    private readonly IDataView test = new DatasetDataView(TestData.Test, FashionMnist.ClassNames);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("textbook")]
    [InlineData("modern")]
    public void TheExportedNetworkScoresTheTestImagesAsTheTransformerDoes(string architecture)
    {
        ConvNetTransformer model = Train(architecture);
        string path = Path.Combine(folder, $"{architecture}.onnx");
        model.ExportToOnnx(path);
        var (scores, labels) = ReadScores(model.Transform(test), "Score", "PredictedLabel");

        // Batch 1: ML.NET's ApplyOnnxModel runs the model once per row.
        var onnxPipeline = ml.Transforms.CopyColumns(OnnxExport.InputName, "Features")
            .Append(ml.Transforms.ApplyOnnxModel([OnnxExport.ProbabilitiesName], [OnnxExport.InputName], path));
        float[][] rowByRow = ReadVectors(onnxPipeline.Fit(test).Transform(test), OnnxExport.ProbabilitiesName);
        float rowDifference = MaxDifference(scores, rowByRow);
        Assert.Equal(labels, rowByRow.Select(ArgMax));

        // A batch of all 2,000 images in one run.
        using var session = new InferenceSession(path);
        float[] all = TestData.Test.SamplesToArray(0, TestData.Test.Count);
        var input = new DenseTensor<float>(all, [TestData.Test.Count, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, input)]);
        float[] batch = results.Single(r => r.Name == OnnxExport.ProbabilitiesName).AsTensor<float>().ToArray();
        long[] classIndex = results.Single(r => r.Name == OnnxExport.ClassIndexName).AsTensor<long>().ToArray();
        float batchDifference = MaxDifference(scores, batch.Chunk(10).ToArray());
        Assert.Equal(labels, classIndex.Select(i => (int)i));

        output.WriteLine($"{architecture}: max |ONNX Runtime − MlNetConv| = {rowDifference:G3} row by row (ApplyOnnxModel), {batchDifference:G3} in one batch of {TestData.Test.Count}");
        Assert.True(rowDifference <= Tolerance, $"ApplyOnnxModel differs by {rowDifference:G3}");
        Assert.True(batchDifference <= Tolerance, $"A batch of {TestData.Test.Count} differs by {batchDifference:G3}");
    }

    // ML.NET writes opsets 9 to 12 (12 by default); the network's operators mean the same in all of them.
    [Theory]
    [InlineData(null)]
    [InlineData(9)]
    public void MlNetsConvertToOnnxConvertsAnIdxPipelineEndingInTheCnnAndMapKeyToValue(int? opset)
    {
        ITransformer model = ml.MulticlassClassification.Trainers.ConvNet(Options(opset is null ? "textbook" : "modern"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(train);
        string path = Path.Combine(folder, "pipeline.onnx");
        using (var file = File.Create(path))
        {
            if (opset is int version) ml.Model.ConvertToOnnx(model, train, version, file);
            else ml.Model.ConvertToOnnx(model, train, file);
        }
        Assert.Equal(opset ?? 12, Assert.Single(ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).OpsetImport, o => o.Domain == "").Version);

        IDataView scored = model.Transform(test);
        var (scores, _) = ReadScores(scored, "Score", null);
        string[] labels = ReadStrings(scored, "PredictedLabel");
        IDataView onnxScored = ml.Transforms.ApplyOnnxModel(path).Fit(test).Transform(test);
        // ML.NET names the converted outputs "Score.output" and "PredictedLabel.output"; ApplyOnnxModel drops ".output".
        float[][] onnxScores = ReadVectors(onnxScored, "Score");
        string[] onnxLabels = ReadVectors<ReadOnlyMemory<char>>(onnxScored, "PredictedLabel").Select(v => v.Single().ToString()).ToArray();

        float difference = MaxDifference(scores, onnxScores);
        output.WriteLine($"ConvertToOnnx pipeline (opset {opset ?? 12}): max |ONNX Runtime − MlNetConv| = {difference:G3} over {labels.Length} rows");
        Assert.True(difference <= Tolerance, $"The converted pipeline differs by {difference:G3}");
        Assert.Equal(labels, onnxLabels);
        Assert.Contains("Trouser", onnxLabels);
    }

    [Fact]
    public void MlNetsConvertToOnnxConvertsFeatureMaps()
    {
        ConvNetTransformer cnn = Train("textbook");
        var featureMaps = ml.Transforms.ConvNetFeatureMaps(cnn, "conv2d_1", "Maps").Fit(train);
        string path = Path.Combine(folder, "feature-maps.onnx");
        using (var file = File.Create(path)) ml.Model.ConvertToOnnx(featureMaps, train, file);

        IDataView few = ml.Data.TakeRows(test, 50);
        float[][] expected = ReadVectors(featureMaps.Transform(few), "Maps");
        float[][] actual = ReadVectors(ml.Transforms.ApplyOnnxModel(path).Fit(few).Transform(few), "Maps");
        Assert.Equal(64 * 14 * 14, expected[0].Length);
        float difference = MaxDifference(expected, actual);
        Assert.True(difference <= 1e-4f * expected.Max(r => r.Max()), $"Feature maps differ by {difference:G3}");
    }

    [Fact]
    public void TheExportFollowsOnnxsStructuralRules()
    {
        ConvNetTransformer model = Train("modern");
        using var stream = new MemoryStream();
        model.ExportToOnnx(stream, new OnnxExportOptions { ModelVersion = 2 });
        ModelProto proto = ModelProto.Parser.ParseFrom(stream.ToArray());

        Assert.Equal(7, proto.IrVersion);
        var opset = Assert.Single(proto.OpsetImport);
        Assert.Equal(("", 13L), (opset.Domain, opset.Version));
        Assert.Equal(("MlNetConv", "1.0.0", 2L), (proto.ProducerName, proto.ProducerVersion, proto.ModelVersion));
        Assert.Equal("""["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"]""",
            Assert.Single(proto.MetadataProps, p => p.Key == OnnxExport.ClassNamesKey).Value);

        GraphProto graph = proto.Graph;
        var input = Assert.Single(graph.Input);
        Assert.Equal(OnnxExport.InputName, input.Name);
        Assert.Equal(["N", "1", "28", "28"], input.Type.TensorType.Shape.Dim.Select(d => d.DimParam is "" ? d.DimValue.ToString() : d.DimParam));
        Assert.Equal([OnnxExport.ProbabilitiesName, OnnxExport.ClassIndexName], graph.Output.Select(o => o.Name));

        // Every value is defined once, before it is used (nodes sorted topologically); names are unique; every
        // attribute states its type; every initializer is used and holds as many floats as its dimensions say.
        var defined = new HashSet<string>(graph.Initializer.Select(i => i.Name)) { OnnxExport.InputName };
        Assert.Equal(graph.Initializer.Count, defined.Count - 1);
        var used = new HashSet<string>();
        foreach (NodeProto node in graph.Node)
        {
            Assert.All(node.Input, name => Assert.True(defined.Contains(name), $"Node '{node.Name}' reads '{name}' before it is defined."));
            used.UnionWith(node.Input);
            Assert.All(node.Output, name => Assert.True(defined.Add(name), $"Value '{name}' is defined twice."));
            Assert.All(node.Attribute, a => Assert.NotEqual(AttributeProto.Types.AttributeType.Undefined, a.Type));
        }
        Assert.Equal(graph.Node.Count, graph.Node.Select(n => n.Name).Distinct().Count());
        Assert.All(graph.Initializer, i => Assert.Contains(i.Name, used));
        Assert.All(graph.Initializer, i => Assert.Equal(i.Dims.Aggregate(1L, (a, b) => a * b) * 4, i.RawData.Length));
        Assert.Contains(OnnxExport.ProbabilitiesName, defined);
        Assert.Contains(OnnxExport.ClassIndexName, defined);
        Assert.All(graph.ValueInfo, v => Assert.Contains(v.Name, defined));
        Assert.Equal(graph.ValueInfo.Count, graph.ValueInfo.Select(v => v.Name).Distinct().Count());
        Assert.Equal(
            ["Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten",
             "MatMul", "BatchNormalization", "Relu", "Gemm", "Softmax", "ArgMax"],
            graph.Node.Select(n => n.OpType));
        Assert.Equal(421_866 + 448, graph.Initializer.Sum(i => i.Dims.Aggregate(1L, (a, b) => a * b)));
    }

    private ConvNetTransformer Train(string architecture) => ml.MulticlassClassification.Trainers.ConvNet(Options(architecture)).Fit(train);

    private static ConvNetOptions Options(string architecture) => new()
    {
        Epochs = 1,
        Threads = 2,
        ValidationSplit = 0,
        EarlyStopping = null,
        Layers = architecture == "modern" ? Architectures.ModernCnn() : Architectures.TextbookCnn(),
    };

    private static (float[][] Scores, int[] Labels) ReadScores(IDataView scored, string scoreColumn, string? labelColumn)
    {
        float[][] scores = ReadVectors(scored, scoreColumn);
        int[] labels = labelColumn is null ? [] : scored.GetColumn<uint>(labelColumn).Select(k => (int)k - 1).ToArray();
        if (labelColumn is not null) Assert.Equal(scores.Select(ArgMax), labels);
        return (scores, labels);
    }

    private static float[][] ReadVectors(IDataView view, string column) => ReadVectors<float>(view, column);

    private static T[][] ReadVectors<T>(IDataView view, string column) =>
        view.GetColumn<VBuffer<T>>(column).Select(v => v.DenseValues().ToArray()).ToArray();

    private static string[] ReadStrings(IDataView view, string column) =>
        view.GetColumn<ReadOnlyMemory<char>>(column).Select(v => v.ToString()).ToArray();

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

    private static float MaxDifference(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int j = 0; j < expected[i].Length; j++) max = Math.Max(max, Math.Abs(expected[i][j] - actual[i][j]));
        }
        return max;
    }
}
