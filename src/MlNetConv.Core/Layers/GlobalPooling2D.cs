using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>
/// What Keras's global 2-D pooling layers share: each channel of an image reduced to one value, (C, H, W) → (C)
/// (Keras's <c>keepdims=False</c>), the per-image parallel loop and the buffers. No parameters.
/// </summary>
public abstract class GlobalPooling2D : Layer
{
    private protected GlobalPooling2D(string? name) : base(name)
    {
    }

    /// <summary>Values pooled per channel: H·W of the input (after building).</summary>
    private protected int Area => InputShape.Height * InputShape.Width;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) =>
        input.Rank == 3 ? Shape.Vector(input.Channels) : throw ShapeError(input, "it needs an image shape (channels, height, width)");

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new ImageByImageBuffers(this, ForwardImage, BackwardImage, training ? CreateIndexBuffer(capacity) : null);

    /// <summary>Per-output indices the backward pass needs (max pooling), or null.</summary>
    private protected virtual int[]? CreateIndexBuffer(int capacity) => null;

    internal override void ForwardPass(LayerPass pass) => ImageByImageBuffers.RunForward(pass);

    internal override void BackwardPass(LayerPass pass) => ImageByImageBuffers.RunBackward(pass);

    internal override void WriteConfig(BinaryWriter writer)
    {
    }

    /// <summary>The ONNX operator over each channel: GlobalMaxPool or GlobalAveragePool.</summary>
    private protected abstract string OnnxOperator { get; }

    /// <summary>The global operator gives (N, C, 1, 1); Flatten makes it (N, C), Keras's <c>keepdims=False</c>.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        string pooled = graph.AddValue($"{Name}/pooled", Shape.Image(InputShape.Channels, 1, 1));
        graph.AddNode(OnnxOperator, Name, [input], [pooled]);
        string output = graph.AddValue(Name, OutputShape);
        graph.AddNode("Flatten", $"{Name}/flatten", [pooled], [output]).Attribute("axis", 1L);
        return output;
    }

    private protected abstract void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices);

    private protected abstract void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx);
}
