using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Onnx;

/// <summary>
/// The engine's ONNX graph interface over ML.NET's ONNX converter context, so <c>mlContext.Model.ConvertToOnnx</c>
/// writes a network with the same nodes as <see cref="OnnxExport"/>. ML.NET records every variable as a column too,
/// so the network's values are named under "MlNetConv/" where no pipeline column can clash with them.
/// </summary>
internal sealed class OnnxContextGraph(OnnxContext context) : IOnnxGraph
{
    private const string Prefix = "MlNetConv/";

    public string AddValue(string nameHint, Shape sample) => context.AddIntermediateVariable(VectorType(sample), Prefix + nameHint);

    public string AddInitializer(string nameHint, ReadOnlySpan<float> values, params long[] dimensions) =>
        context.AddInitializer(values.ToArray(), dimensions, Prefix + nameHint);

    public IOnnxNode AddNode(string opType, string nameHint, string[] inputs, string[] outputs) =>
        new Node(context.CreateNode(opType, inputs, outputs, context.GetNodeName(Prefix + nameHint), ""));

    /// <summary>The column type of N samples of <paramref name="sample"/>: (C, H, W) or (D) floats.</summary>
    public static VectorDataViewType VectorType(Shape sample) => sample.Rank == 3
        ? new VectorDataViewType(NumberDataViewType.Single, sample.Channels, sample.Height, sample.Width)
        : new VectorDataViewType(NumberDataViewType.Single, sample.Size);

    private sealed class Node(OnnxNode node) : IOnnxNode
    {
        public IOnnxNode Attribute(string name, long value)
        {
            node.AddAttribute(name, value);
            return this;
        }

        // ML.NET writes a double attribute as ONNX's float.
        public IOnnxNode Attribute(string name, float value)
        {
            node.AddAttribute(name, (double)value);
            return this;
        }

        public IOnnxNode Attribute(string name, long[] values)
        {
            node.AddAttribute(name, (IEnumerable<long>)values);
            return this;
        }
    }
}
