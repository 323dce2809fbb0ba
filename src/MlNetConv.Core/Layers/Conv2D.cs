using System.Numerics.Tensors;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

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
        ConvShape geometry = Geometry(input);
        return Shape.Image(Filters, geometry.Window.Rows.Output, geometry.Window.Columns.Output);
    }

    /// <inheritdoc />
    public override Layer Clone() => new Conv2D(Filters, KernelSize, Strides, Padding, Activation, UseBias, Name);

    private protected override void OnBuild(Shape input) => shape = Geometry(input);

    private ConvShape Geometry(Shape input) => ConvShape.Create(input.Channels, input.Height, input.Width, Filters,
        KernelSize.Rows, KernelSize.Columns, Strides.Rows, Strides.Columns, Padding);

    internal override void InitializeParameters(Random random)
    {
        int area = shape.Window.WindowArea;
        GlorotUniform(Parameters.AsSpan(0, shape.WeightCount), shape.InputChannels * area, Filters * area, random);
        Parameters.AsSpan(shape.WeightCount).Clear();
    }

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        new Buffers(this, capacity, training, threads);

    internal override void ForwardPass(LayerPass pass)
    {
        var buffers = (Buffers)pass.Buffers!;
        buffers.Start(pass);
        // Training keeps every image's im2col matrix for the backward pass; inference reuses one per chunk.
        int chunks = pass.Training ? pass.Batch : Math.Min(pass.Batch, buffers.ColumnSlots);
        buffers.Chunks = chunks;
        pass.Pool.Run(buffers.ForwardWork, chunks);
    }

    internal override void BackwardPass(LayerPass pass)
    {
        var buffers = (Buffers)pass.Buffers!;
        buffers.Start(pass);
        pass.Pool.Run(buffers.PrepareWork, pass.Batch);
        // Each block of dW rows sums its images in image order: the same bits for any thread count.
        pass.Pool.Run(buffers.WeightGradientWork, buffers.WeightBlocks);
        buffers.SumBiasGradient();
        if (pass.InputGradient is not null) pass.Pool.Run(buffers.InputGradientWork, pass.Batch);
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

    /// <summary>Conv with kernel (filters, C, rows, columns) and bias, explicit pads, then the activation.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        string kernel = graph.AddInitializer($"{Name}/kernel", Kernel, Filters, shape.InputChannels, KernelSize.Rows, KernelSize.Columns);
        string[] inputs = UseBias ? [input, kernel, graph.AddInitializer($"{Name}/bias", Bias, Filters)] : [input, kernel];
        string output = graph.AddValue(Activation.PreActivationName(Name), OutputShape);
        graph.AddNode("Conv", Name, inputs, [output]).Window(shape.Window).Attribute("dilations", [1L, 1L]).Attribute("group", 1L);
        return Activation.ToOnnx(graph, output, OutputShape, Name);
    }

    internal static Conv2D ReadConfig(BinaryReader reader, string name) =>
        new(reader.ReadInt32(), (reader.ReadInt32(), reader.ReadInt32()), (reader.ReadInt32(), reader.ReadInt32()),
            (Padding)reader.ReadByte(), (Activation)reader.ReadByte(), reader.ReadBoolean(), name);

    private sealed class Buffers : LayerBuffers
    {
        private readonly Conv2D layer;
        private readonly float[] columns;              // (slots, C·R·S, OH·OW): im2col per image (training) or per chunk
        private readonly bool transposedWeights;
        private readonly float[]? transposedGradients; // (capacity, OH·OW, K): each image's dZᵀ, if transposedWeights
        private readonly float[]? biasParts;           // (capacity, K): each image's dB
        private readonly float[]? weightGradientT;     // (C·R·S, K): dWᵀ summed over the batch, if transposedWeights
        private readonly int rowsPerBlock;
        private LayerPass pass = null!;

        public Buffers(Conv2D layer, int capacity, bool training, int threads)
        {
            this.layer = layer;
            ConvShape s = layer.shape;
            ColumnSlots = training ? capacity : Math.Min(capacity, threads);
            columns = new float[(long)ColumnSlots * s.ColumnsSize];
            if (training) biasParts = new float[capacity * s.Filters];
            // A long receptive field (conv2: 288 > 64 filters) makes dWᵀ's product the efficient one, worth transposing
            // each dZ for; a short one (conv1: 9) leaves dWᵀ too few rows to reuse dZᵀ, and dW's dot products over the
            // long OH·OW win. Two blocks of rows per thread, in whole register blocks; how rows are split never changes
            // a sum's order.
            transposedWeights = s.PatchSize >= s.Filters;
            if (training && transposedWeights)
            {
                transposedGradients = new float[(long)capacity * s.OutputSize];
                weightGradientT = new float[s.WeightCount];
            }
            int rows = transposedWeights ? s.PatchSize : s.Filters;
            rowsPerBlock = Math.Max(4, (rows + 2 * threads - 1) / (2 * threads) + 3 & ~3);
            WeightBlocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
            ForwardWork = new Work<Buffers>(this, static (b, chunk) => b.ForwardChunk(chunk));
            PrepareWork = new Work<Buffers>(this, static (b, image) => b.PrepareImage(image));
            WeightGradientWork = new Work<Buffers>(this, static (b, block) => b.WeightGradientBlock(block));
            InputGradientWork = new Work<Buffers>(this, static (b, image) => b.InputGradientImage(image));
        }

        public int ColumnSlots { get; }

        public int Chunks { get; set; }

        public int WeightBlocks { get; }

        public IParallelWork ForwardWork { get; }

        public IParallelWork PrepareWork { get; }

        public IParallelWork WeightGradientWork { get; }

        public IParallelWork InputGradientWork { get; }

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
                layer.Activation.Forward(y, s.OutputSize);
            }
        }

        // dZ = f'(·)·dY in place, this image's dB, and dZᵀ if the weight gradient is taken transposed.
        private void PrepareImage(int n)
        {
            ConvShape s = layer.shape;
            Span<float> dz = pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize);
            layer.Activation.Backward(pass.Output.AsSpan(n * s.OutputSize, s.OutputSize), dz, dz, s.OutputSize);
            Conv2DKernels.BackwardBias(dz, biasParts.AsSpan(n * s.Filters, s.Filters), s);
            if (transposedWeights)
                Transpose.Matrix(dz, s.Filters, s.Window.OutputArea, s.Window.OutputArea, transposedGradients.AsSpan(n * s.OutputSize, s.OutputSize), s.Filters);
        }

        private void WeightGradientBlock(int block)
        {
            ConvShape s = layer.shape;
            int first = block * rowsPerBlock;
            if (!transposedWeights)
            {
                int endFilter = Math.Min(s.Filters, first + rowsPerBlock);
                for (int n = 0; n < pass.Batch; n++)
                    Conv2DKernels.BackwardWeights(pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize),
                        columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize), pass.ParameterGradients.AsSpan(0, s.WeightCount), first, endFilter, accumulate: n > 0, s);
                return;
            }
            int end = Math.Min(s.PatchSize, first + rowsPerBlock);
            for (int n = 0; n < pass.Batch; n++)
                Conv2DKernels.BackwardWeightsTransposed(columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize),
                    transposedGradients.AsSpan(n * s.OutputSize, s.OutputSize), weightGradientT, first, end, accumulate: n > 0, s);
            // dW (K, C·R·S) takes this block's columns.
            Transpose.Matrix(weightGradientT.AsSpan(first * s.Filters), end - first, s.Filters, s.Filters,
                pass.ParameterGradients.AsSpan(first, s.WeightCount - first), s.PatchSize);
        }

        public void SumBiasGradient()
        {
            if (!layer.UseBias) return;
            ConvShape s = layer.shape;
            RowSum.Sum(biasParts, pass.Batch, pass.ParameterGradients.AsSpan(s.WeightCount, s.Filters));
        }

        private void InputGradientImage(int n)
        {
            ConvShape s = layer.shape;
            Conv2DKernels.BackwardInput(pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize), layer.Kernel,
                pass.InputGradient.AsSpan(n * s.InputSize, s.InputSize), columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize), s);
        }
    }
}
