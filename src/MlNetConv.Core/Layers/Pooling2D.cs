using MlNetConv.Core.Geometry;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>
/// What Keras's 2-D pooling layers share: a window (default 2×2), strides (default: the window), padding
/// (default valid), shape arithmetic and the per-image parallel loop. Input (C, H, W), output (C, OH, OW).
/// </summary>
public abstract class Pooling2D : Layer
{
    private protected Pooling2D((int Rows, int Columns) poolSize, (int Rows, int Columns)? strides, Padding padding, string? name)
        : base(name)
    {
        if (poolSize.Rows < 1 || poolSize.Columns < 1)
            throw new ArgumentOutOfRangeException(nameof(poolSize), poolSize, "Pool sizes must be positive.");
        var s = strides ?? poolSize;
        if (s.Rows < 1 || s.Columns < 1) throw new ArgumentOutOfRangeException(nameof(strides), s, "Pooling strides must be positive.");
        if (padding == Padding.Full) throw new ArgumentException("Pooling takes Valid or Same padding, as Keras does.", nameof(padding));
        PoolSize = poolSize;
        Strides = s;
        Padding = padding;
    }

    /// <summary>Window rows and columns.</summary>
    public (int Rows, int Columns) PoolSize { get; }

    /// <summary>Step between windows, rows and columns.</summary>
    public (int Rows, int Columns) Strides { get; }

    /// <summary>Valid or Same (Keras offsets).</summary>
    public Padding Padding { get; }

    /// <summary>The window over one channel (after building).</summary>
    public Window2D Window { get; private set; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != 3) throw ShapeError(input, "it needs an image shape (channels, height, width)");
        if (Padding == Padding.Valid && (input.Height < PoolSize.Rows || input.Width < PoolSize.Columns))
            throw ShapeError(input, $"a {PoolSize.Rows}×{PoolSize.Columns} pool with valid padding needs at least that many rows and columns");
        Window2D window = Geometry(input);
        return Shape.Image(input.Channels, window.Rows.Output, window.Columns.Output);
    }

    private protected override void OnBuild(Shape input) => Window = Geometry(input);

    private Window2D Geometry(Shape input) =>
        Window2D.Create(input.Height, input.Width, PoolSize.Rows, PoolSize.Columns, Strides.Rows, Strides.Columns, Padding);

    internal override void ForwardPass(LayerPass pass) => ImageByImageBuffers.RunForward(pass);

    internal override void BackwardPass(LayerPass pass) => ImageByImageBuffers.RunBackward(pass);

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new ImageByImageBuffers(this, (x, y, indices) => ForwardImage(x, y, indices, InputShape.Channels), BackwardImage,
            training ? CreateIndexBuffer(capacity) : null);

    /// <summary>Per-output indices the backward pass needs (max pooling), or null.</summary>
    private protected virtual int[]? CreateIndexBuffer(int capacity) => null;

    /// <summary>The first <paramref name="channels"/> channels of one image (each channel pools alone).</summary>
    private protected abstract void ForwardImage(ReadOnlySpan<float> x, Span<float> y, Span<int> indices, int channels);

    internal override bool InfersImageByImage => true;

    internal override void InferImage(LayerPass pass, ReadOnlySpan<float> x, Span<float> y, int first, int end)
    {
        int inArea = Window.InputArea, outArea = Window.OutputArea;
        ForwardImage(x[(first * inArea)..(end * inArea)], y[(first * outArea)..(end * outArea)], default, end - first);
    }

    private protected abstract void BackwardImage(ReadOnlySpan<float> dy, ReadOnlySpan<int> indices, Span<float> dx);

    internal override void WriteConfig(BinaryWriter writer)
    {
        writer.Write(PoolSize.Rows);
        writer.Write(PoolSize.Columns);
        writer.Write(Strides.Rows);
        writer.Write(Strides.Columns);
        writer.Write((byte)Padding);
    }

    /// <summary>The ONNX operator over each window: MaxPool or AveragePool.</summary>
    private protected abstract string OnnxOperator { get; }

    /// <summary>The pooling operator with explicit pads; padded positions never count (Keras's max and mean of the window's real values).</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        string output = graph.AddValue(Name, OutputShape);
        graph.AddNode(OnnxOperator, Name, [input], [output]).Window(Window);
        return output;
    }

    private protected static ((int, int) Pool, (int, int) Strides, Padding Padding) ReadPoolingConfig(BinaryReader reader) =>
        ((reader.ReadInt32(), reader.ReadInt32()), (reader.ReadInt32(), reader.ReadInt32()), (Padding)reader.ReadByte());
}
