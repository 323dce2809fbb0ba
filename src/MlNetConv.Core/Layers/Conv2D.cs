using System.Numerics.Tensors;
using MlNetConv.Geometry;
using MlNetConv.Kernels;
using MlNetConv.Tensors;
using MlNetConv.Threading;

namespace MlNetConv.Layers;

/// <summary>
/// 2-D convolution, Keras's <c>Conv2D</c>: Y_i = f(B_i + Σ_j X_j ★ K_ij) for every filter i over input channels j.
/// Input (C, H, W) per sample; output (filters, OH, OW) with OH, OW from <see cref="WindowAxis"/> (Keras's exact
/// "same" offsets). Kernel (filters, C, kh, kw), Glorot-uniform; bias (filters), zeros.
/// </summary>
/// <example><c>new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu)</c> on (1, 28, 28) gives (32, 28, 28) and 320 parameters.</example>
public sealed class Conv2D : Layer
{
    private ConvShape shape;

    /// <summary>A square kernel and equal strides.</summary>
    public Conv2D(int filters, int kernelSize, int strides = 1, Padding padding = Padding.Valid,
        Activation activation = Activation.Linear, bool useBias = true, string? name = null)
        : this(filters, (kernelSize, kernelSize), (strides, strides), padding, activation, useBias, name)
    {
    }

    /// <summary>Any kernel size and strides, as (rows, columns).</summary>
    public Conv2D(int filters, (int Rows, int Columns) kernelSize, (int Rows, int Columns) strides, Padding padding = Padding.Valid,
        Activation activation = Activation.Linear, bool useBias = true, string? name = null) : base(name)
    {
        if (filters < 1) throw new ArgumentOutOfRangeException(nameof(filters), filters, "Conv2D needs at least one filter.");
        if (kernelSize.Rows < 1 || kernelSize.Columns < 1)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "Conv2D kernel sizes must be positive.");
        if (strides.Rows < 1 || strides.Columns < 1)
            throw new ArgumentOutOfRangeException(nameof(strides), strides, "Conv2D strides must be positive.");
        if (padding == Padding.Full)
            throw new ArgumentException("Conv2D takes Valid or Same padding, as Keras does; Full belongs to CrossCorrelation.", nameof(padding));
        if (activation == Activation.Softmax)
            throw new ArgumentException("Conv2D does not take a softmax activation; flatten and use Dense.", nameof(activation));
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides;
        Padding = padding;
        Activation = activation;
        UseBias = useBias;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel rows and columns.</summary>
    public (int Rows, int Columns) KernelSize { get; }

    /// <summary>Step between windows, rows and columns.</summary>
    public (int Rows, int Columns) Strides { get; }

    /// <summary>Valid or Same (Keras offsets).</summary>
    public Padding Padding { get; }

    /// <summary>Applied after the bias.</summary>
    public Activation Activation { get; }

    /// <summary>Whether a bias per filter is added.</summary>
    public bool UseBias { get; }

    /// <inheritdoc />
    public override string TypeName => "Conv2D";

    /// <summary>The convolution's sizes (after building).</summary>
    public ConvShape ConvShape => shape;

    /// <inheritdoc />
    public override int ParameterCount => shape.WeightCount + (UseBias ? Filters : 0);

    /// <summary>The kernel, laid out (filters, input channels, rows, columns).</summary>
    public ReadOnlySpan<float> Kernel => Parameters.AsSpan(0, shape.WeightCount);

    /// <summary>The bias per filter (empty without bias).</summary>
    public ReadOnlySpan<float> Bias => UseBias ? Parameters.AsSpan(shape.WeightCount, Filters) : default;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != 3) throw ShapeError(input, "it needs an image shape (channels, height, width)");
        if (Padding == Padding.Valid && (input.Height < KernelSize.Rows || input.Width < KernelSize.Columns))
            throw ShapeError(input, $"a {KernelSize.Rows}×{KernelSize.Columns} kernel with valid padding needs at least that many rows and columns");
        shape = ConvShape.Create(input.Channels, input.Height, input.Width, Filters, KernelSize.Rows, KernelSize.Columns,
            Strides.Rows, Strides.Columns, Padding);
        return Shape.Image(Filters, shape.Window.Rows.Output, shape.Window.Columns.Output);
    }

    internal override void InitializeParameters(Random random)
    {
        int area = shape.Window.WindowArea;
        GlorotUniform(Parameters.AsSpan(0, shape.WeightCount), shape.InputChannels * area, Filters * area, random);
        Parameters.AsSpan(shape.WeightCount).Clear();
    }

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new Buffers(this, capacity, training, threads);

    internal override void Forward(LayerPass pass)
    {
        var buffers = (Buffers)pass.Buffers!;
        buffers.Start(pass);
        // Training keeps every image's im2col matrix for the backward pass; inference reuses one per chunk.
        int chunks = pass.Training ? pass.Batch : Math.Min(pass.Batch, buffers.ColumnSlots);
        buffers.Chunks = chunks;
        pass.Pool.Run(buffers.ForwardWork, chunks);
    }

    internal override void Backward(LayerPass pass)
    {
        var buffers = (Buffers)pass.Buffers!;
        buffers.Start(pass);
        pass.Pool.Run(buffers.BackwardWork, pass.Batch);
        // Per-image gradients are summed in image order, element-block by element-block: the same bits for any thread count.
        pass.Pool.Run(buffers.ReduceWork, (ParameterCount + Buffers.ReduceBlock - 1) / Buffers.ReduceBlock);
    }

    internal override void WriteConfig(BinaryWriter writer)
    {
        writer.Write(Filters);
        writer.Write(KernelSize.Rows);
        writer.Write(KernelSize.Columns);
        writer.Write(Strides.Rows);
        writer.Write(Strides.Columns);
        writer.Write((byte)Padding);
        writer.Write((byte)Activation);
        writer.Write(UseBias);
    }

    internal static Conv2D ReadConfig(BinaryReader reader, string name) =>
        new(reader.ReadInt32(), (reader.ReadInt32(), reader.ReadInt32()), (reader.ReadInt32(), reader.ReadInt32()),
            (Padding)reader.ReadByte(), (Activation)reader.ReadByte(), reader.ReadBoolean(), name);

    private sealed class Buffers : LayerBuffers
    {
        public const int ReduceBlock = 4096;

        private readonly Conv2D layer;
        private readonly float[] columns;
        private readonly float[]? gradientParts;
        private LayerPass pass = null!;

        public Buffers(Conv2D layer, int capacity, bool training, int threads)
        {
            this.layer = layer;
            ColumnSlots = training ? capacity : Math.Min(capacity, threads);
            columns = new float[(long)ColumnSlots * layer.shape.ColumnsSize];
            if (training) gradientParts = new float[(long)capacity * layer.ParameterCount];
            ForwardWork = new Work<Buffers>(this, static (b, chunk) => b.ForwardChunk(chunk));
            BackwardWork = new Work<Buffers>(this, static (b, image) => b.BackwardImage(image));
            ReduceWork = new Work<Buffers>(this, static (b, block) => b.ReduceBlockOf(block));
        }

        public int ColumnSlots { get; }

        public int Chunks { get; set; }

        public IParallelWork ForwardWork { get; }

        public IParallelWork BackwardWork { get; }

        public IParallelWork ReduceWork { get; }

        public void Start(LayerPass current) => pass = current;

        private void ForwardChunk(int chunk)
        {
            ConvShape s = layer.shape;
            int first = (int)((long)chunk * pass.Batch / Chunks), end = (int)((long)(chunk + 1) * pass.Batch / Chunks);
            Span<float> cols = columns.AsSpan(chunk * s.ColumnsSize, s.ColumnsSize);
            for (int n = first; n < end; n++)
            {
                Span<float> y = pass.Output.AsSpan(n * s.OutputSize, s.OutputSize);
                Conv2DKernels.Forward(pass.Input.AsSpan(n * s.InputSize, s.InputSize), layer.Kernel, layer.Bias, y, cols, s);
                Activations.Forward(layer.Activation, y, s.OutputSize);
            }
        }

        private void BackwardImage(int n)
        {
            ConvShape s = layer.shape;
            Span<float> dz = pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize);
            Activations.Backward(layer.Activation, pass.Output.AsSpan(n * s.OutputSize, s.OutputSize), dz, dz, s.OutputSize);
            Span<float> cols = columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize);
            Span<float> part = gradientParts.AsSpan(n * layer.ParameterCount, layer.ParameterCount);
            Conv2DKernels.BackwardWeights(dz, cols, part[..s.WeightCount], part[s.WeightCount..], s);
            if (pass.InputGradient is { } dx)
                Conv2DKernels.BackwardInput(dz, layer.Kernel, dx.AsSpan(n * s.InputSize, s.InputSize), cols, s);
        }

        private void ReduceBlockOf(int block)
        {
            int count = layer.ParameterCount, start = block * ReduceBlock, length = Math.Min(ReduceBlock, count - start);
            Span<float> sum = layer.Gradients.AsSpan(start, length);
            gradientParts.AsSpan(start, length).CopyTo(sum);
            for (int n = 1; n < pass.Batch; n++) TensorPrimitives.Add(sum, gradientParts.AsSpan(n * count + start, length), sum);
        }
    }
}
