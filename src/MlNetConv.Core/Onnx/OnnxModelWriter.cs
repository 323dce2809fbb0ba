using System.Buffers.Binary;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Onnx;

/// <summary>
/// MlNetConv's own ONNX writer: collects a graph's nodes, initializers and values, then writes a ModelProto
/// (IR version <see cref="OnnxExport.IrVersion"/>, opset <see cref="OnnxExport.OpsetVersion"/>). Intermediate values
/// get their shapes as <c>value_info</c>, so viewers show them and ONNX Runtime checks them against its own inference.
/// </summary>
internal sealed class OnnxModelWriter : IOnnxGraph
{
    // onnx.proto's TensorProto.DataType values.
    public const int FloatType = 1, Int64Type = 7;

    private readonly HashSet<string> names = [];
    private readonly List<Node> nodes = [];
    private readonly List<ProtobufWriter> initializers = [];
    private readonly List<(string Name, int ElementType, long[] Dimensions)> values = [];

    /// <summary>Reserves <paramref name="name"/> exactly (a graph input or output); it must be free.</summary>
    public string Reserve(string name) =>
        names.Add(name) ? name : throw new InvalidOperationException($"The ONNX value name '{name}' is already taken.");

    public string AddValue(string nameHint, Shape sample)
    {
        string name = UniqueName(nameHint);
        values.Add((name, FloatType, BatchDimensions(sample)));
        return name;
    }

    public string AddInitializer(string nameHint, ReadOnlySpan<float> data, params long[] dimensions)
    {
        if (dimensions.Aggregate(1L, (product, d) => product * d) != data.Length)
            throw new ArgumentException($"Initializer '{nameHint}': {data.Length} values do not fill dimensions [{string.Join(", ", dimensions)}].");
        string name = UniqueName(nameHint);
        var raw = new byte[data.Length * sizeof(float)];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), data[i]);
        var tensor = new ProtobufWriter();
        foreach (long d in dimensions) tensor.Int64(1, d);
        tensor.Int64(2, FloatType).String(8, name).Bytes(9, raw);
        initializers.Add(tensor);
        return name;
    }

    public IOnnxNode AddNode(string opType, string nameHint, string[] inputs, string[] outputs)
    {
        var node = new Node(opType, UniqueNodeName(nameHint), inputs, outputs);
        nodes.Add(node);
        return node;
    }

    /// <summary>Gives value <paramref name="from"/>, made by a node, the name <paramref name="to"/> (a graph output's).</summary>
    public void Rename(string from, string to)
    {
        Node producer = nodes.LastOrDefault(n => n.Outputs.Contains(from))
            ?? throw new InvalidOperationException($"No node makes the ONNX value '{from}'.");
        producer.Outputs[Array.IndexOf(producer.Outputs, from)] = to;
        foreach (Node consumer in nodes)
            for (int i = 0; i < consumer.Inputs.Length; i++)
                if (consumer.Inputs[i] == from) consumer.Inputs[i] = to;
        values.RemoveAll(v => v.Name == from);
    }

    /// <summary>The model, with graph inputs and outputs given as (name, element type, dimensions; −1 for the batch).</summary>
    public void Write(Stream stream, OnnxModelInfo info)
    {
        var graph = new ProtobufWriter();
        foreach (Node node in nodes) graph.Message(1, node.Proto());
        graph.String(2, info.GraphName);
        foreach (ProtobufWriter initializer in initializers) graph.Message(5, initializer);
        graph.String(10, info.Description);
        foreach (var input in info.Inputs) graph.Message(11, ValueInfo(input));
        foreach (var output in info.Outputs) graph.Message(12, ValueInfo(output));
        var boundary = info.Inputs.Concat(info.Outputs).Select(v => v.Name).ToHashSet();
        foreach (var value in values.Where(v => !boundary.Contains(v.Name))) graph.Message(13, ValueInfo(value));

        var model = new ProtobufWriter()
            .Int64(1, OnnxExport.IrVersion)
            .String(2, info.ProducerName)
            .String(3, info.ProducerVersion)
            .Int64(5, info.ModelVersion)
            .String(6, info.Description)
            .Message(7, graph)
            .Message(8, new ProtobufWriter().String(1, "").Int64(2, OnnxExport.OpsetVersion));
        foreach (var (key, value) in info.Metadata) model.Message(14, new ProtobufWriter().String(1, key).String(2, value));
        model.WriteTo(stream);
    }

    /// <summary>(N, sample dimensions…) with −1 standing for the symbolic batch size N.</summary>
    public static long[] BatchDimensions(Shape sample) =>
        sample.Rank == 3 ? [-1, sample.Channels, sample.Height, sample.Width] : [-1, sample.Channels];

    private static ProtobufWriter ValueInfo((string Name, int ElementType, long[] Dimensions) value)
    {
        var shape = new ProtobufWriter();
        foreach (long d in value.Dimensions)
            shape.Message(1, d < 0 ? new ProtobufWriter().String(2, OnnxExport.BatchDimensionName) : new ProtobufWriter().Int64(1, d));
        var tensorType = new ProtobufWriter().Int64(1, value.ElementType).Message(2, shape);
        return new ProtobufWriter().String(1, value.Name).Message(2, new ProtobufWriter().Message(1, tensorType));
    }

    private string UniqueName(string hint)
    {
        string name = hint;
        for (int i = 1; !names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    // Node names live in their own namespace (ONNX keeps values and nodes apart), so a node may share its value's name.
    private string UniqueNodeName(string hint)
    {
        string name = hint;
        for (int i = 1; nodes.Any(n => n.Name == name); i++) name = $"{hint}_{i}";
        return name;
    }

    private sealed class Node(string opType, string name, string[] inputs, string[] outputs) : IOnnxNode
    {
        // onnx.proto's AttributeProto.AttributeType values.
        private const int FloatAttribute = 1, IntAttribute = 2, IntsAttribute = 7;

        private readonly List<ProtobufWriter> attributes = [];

        public string Name { get; } = name;

        public string[] Inputs { get; } = [.. inputs];

        public string[] Outputs { get; } = [.. outputs];

        public IOnnxNode Attribute(string attributeName, long value)
        {
            attributes.Add(new ProtobufWriter().String(1, attributeName).Int64(20, IntAttribute).Int64(3, value));
            return this;
        }

        public IOnnxNode Attribute(string attributeName, float value)
        {
            attributes.Add(new ProtobufWriter().String(1, attributeName).Int64(20, FloatAttribute).Float(2, value));
            return this;
        }

        public IOnnxNode Attribute(string attributeName, long[] values)
        {
            var attribute = new ProtobufWriter().String(1, attributeName).Int64(20, IntsAttribute);
            foreach (long v in values) attribute.Int64(8, v);
            attributes.Add(attribute);
            return this;
        }

        public ProtobufWriter Proto()
        {
            var node = new ProtobufWriter();
            foreach (string input in Inputs) node.String(1, input);
            foreach (string output in Outputs) node.String(2, output);
            node.String(3, Name).String(4, opType);
            foreach (ProtobufWriter attribute in attributes) node.Message(5, attribute);
            return node;
        }
    }
}

/// <summary>What a written ONNX model says of itself besides its nodes.</summary>
internal sealed record OnnxModelInfo(
    string GraphName,
    string ProducerName,
    string ProducerVersion,
    long ModelVersion,
    string? Description,
    IReadOnlyList<(string Name, int ElementType, long[] Dimensions)> Inputs,
    IReadOnlyList<(string Name, int ElementType, long[] Dimensions)> Outputs,
    IReadOnlyList<(string Key, string Value)> Metadata);
