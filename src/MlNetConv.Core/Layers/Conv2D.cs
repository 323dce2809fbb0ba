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

    // Winograd for 3×3 stride-1 windows where every one of its 16 products reduces over at least this many channels
    // (input channels forward and for dW, filters for dX); conv1's single channel stays direct.
    private const int WinogradMinimumReduction = 8;

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) =>
        WinogradTiles.Fits(shape) && shape.InputChannels >= WinogradMinimumReduction && shape.Filters >= WinogradMinimumReduction
            ? new WinogradBuffers(this, capacity, training, threads)
            : new DirectBuffers(this, capacity, training, threads);

    internal override void ForwardPass(LayerPass pass) => ((ConvBuffers)pass.Buffers!).Forward(pass);

    internal override bool LeadsImageByImage => true;

    internal override void BackwardPass(LayerPass pass) => ((ConvBuffers)pass.Buffers!).Backward(pass);

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

    // What both strategies share: the pass in hand, each image's bias gradient, and how a batch splits into chunks.
    private abstract class ConvBuffers(Conv2D layer, int capacity, bool training, int threads) : LayerBuffers
    {
        protected readonly Conv2D Layer = layer;
        protected readonly int Threads = threads;
        private readonly float[]? biasParts = training ? new float[capacity * layer.Filters] : null; // (capacity, K): each image's dB
        protected LayerPass Pass = null!;

        protected ConvShape Shape => Layer.shape;

        public abstract void Forward(LayerPass pass);

        // Where image n's output goes: its place in the batch, or, with followers (inference), the place of the chunk
        // computing it, reused image after image so it stays in cache.
        protected Span<float> OutputOf(int n, int chunk) =>
            Pass.Output.AsSpan((Pass.Followers.Count == 0 ? n : chunk) * Shape.OutputSize, Shape.OutputSize);

        // Image n's output y, channels [first, end) of it or all, through the followers (normalization, activation,
        // pooling; every one keeps the channels): each into its output at the chunk's place, the last at image n's.
        // Returns the last one's place for image n (empty without followers).
        protected Span<float> RunFollowers(int n, int chunk, ReadOnlySpan<float> y, int first = 0, int end = -1)
        {
            ArraySegment<LayerPass> followers = Pass.Followers;
            if (end < 0) end = Shape.Filters;
            Span<float> output = default;
            for (int i = 0; i < followers.Count; i++)
            {
                Layer follower = followers[i].Layer;
                int size = follower.OutputShape.Size;
                output = followers[i].Output.AsSpan((i == followers.Count - 1 ? n : chunk) * size, size);
                follower.InferImage(followers[i], y, output, first, end);
                y = output;
            }
            return output;
        }

        // The one follower, when it is a max-pooling: the convolution can take it inside its own pass.
        protected MaxPooling2D? LoneMaxPooling => Pass.Followers.Count == 1 ? Pass.Followers[0].Layer as MaxPooling2D : null;

        // Inference on fewer images than threads (batch-1 latency): each image's work splits among the threads too, into
        // blocks of filters (direct) or Winograd's points and rows of tiles; none of it changes a sum's order.
        protected bool SplitsImages => !Pass.Training && Pass.Batch < Threads;

        // Blocks of about equal size that split `count` items among the threads, at least `minimum` items each.
        protected int BlockSize(int count, int minimum) => Math.Max(minimum, (count + Threads - 1) / Threads);

        public abstract void Backward(LayerPass pass);

        // dZ = f'(·)·dY in place and this image's dB; returns dZ.
        protected Span<float> OutputGradientOf(int n)
        {
            ConvShape s = Shape;
            Span<float> dz = Pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize);
            Layer.Activation.Backward(Pass.Output.AsSpan(n * s.OutputSize, s.OutputSize), dz, dz, s.OutputSize);
            Conv2DKernels.BackwardBias(dz, biasParts.AsSpan(n * s.Filters, s.Filters), s);
            return dz;
        }

        // dB summed over the images in image order.
        protected void SumBiasGradient()
        {
            if (!Layer.UseBias) return;
            RowSum.Sum(biasParts, Pass.Batch, Pass.ParameterGradients.AsSpan(Shape.WeightCount, Shape.Filters));
        }
    }

    // im2col + matrix products (Conv2DKernels), for any window, stride and padding.
    private sealed class DirectBuffers : ConvBuffers
    {
        private readonly float[] columns;              // (slots, C·R·S, OH·OW): im2col per image (keepsColumns) or per chunk
        private readonly int columnSlots;
        // Training with the weight gradient transposed (long receptive fields) and a batch's columns past 8 MB unfolds
        // again in the backward pass, each block of dWᵀ's rows its own rows of each image's columns, instead of keeping
        // every image's columns from the forward pass: 20 MB a batch of 32 for a 5×5 window over 32 channels of 14×14,
        // written to memory and read back from it, where a block's rows of an image (157 KB) stay in L2. The forward
        // pass then reads its columns as inference does. Against keeping them, in one process, 2 threads: 0.89–0.91 of
        // the training step for that layer (20 MB), 0.91 for the stem (15 MB), 0.98 for 3×3 stride 2 32→64 at 32²
        // (9.4 MB), but 1.10 for 64→128 at 16² (4.7 MB, which the caches mostly hold), hence the floor. dW's dot
        // products (short receptive fields: conv1's 9) always keep them; theirs are small.
        private readonly bool keepsColumns;
        private const long RecomputedColumnsBytes = 8 << 20;
        private readonly float[]? blockColumns;        // (weight blocks, rows per block, OH·OW), unless keepsColumns
        // A forward pass that keeps no columns (inference, and training unless keepsColumns) unfolds as the product
        // reads where it can (ShiftedPlanes at stride 1 "same", PaddedImage at column strides 1 and 2): each chunk's
        // image in hand, copied between zero margins, instead of its columns, 627 KB for a 5×5 window over 32 channels
        // of 14×14 (images that split among the threads still go through the columns).
        private readonly ColumnReader forwardColumns;
        private readonly float[]? paddedImages;        // (slots, forwardColumns.Size) if it reads
        private readonly bool transposedWeights;
        private readonly float[]? transposedGradients; // (capacity, OH·OW, K): each image's dZᵀ, if transposedWeights
        private readonly float[]? weightGradientT;     // (C·R·S, K): dWᵀ summed over the batch, if transposedWeights
        private readonly int rowsPerBlock, weightBlocks;
        private readonly int filtersPerBlock, filterBlocks; // when images split
        // The kernel as (C·R·S, K), where the output positions end in part of a register: the product takes those in the
        // lanes of the filters (Gemm.TakesColumnsInLanes). Made again when the parameters change.
        private readonly float[]? kernelTransposed;
        private long kernelTransposedVersion = -1;
        private readonly IParallelWork forwardWork, unfoldWork, filterBlockWork, prepareWork, weightGradientWork, inputGradientWork;
        private int chunks; // of the pass in hand: an image each if keepsColumns, one per column slot otherwise
        private bool poolFirst; // of the forward pass in hand: see ForwardFilters

        private const int MinimumReductionUnfoldedAsRead = 64;

        private enum ColumnSource { Unfolded, ShiftedPlanes, PaddedImage }

        // How a product gets a convolution's columns without their being written out, if it can: the one place that
        // knows the sources. Only for long reductions: each packed slice of a panel works out its stretches (or loads
        // its masks), which a short one (conv1's 9, a colour 3×3's 27) does not repay; a 1×1 window at stride 1 has the
        // image itself for columns.
        private readonly record struct ColumnReader(ColumnSource Source, ConvShape Shape, int Size)
        {
            public static ColumnReader For(in ConvShape shape, bool keepsColumns)
            {
                ColumnSource source = keepsColumns || shape.PatchSize < MinimumReductionUnfoldedAsRead
                    || (shape.Window.WindowArea == 1 && shape.Window.Columns.Stride == 1)
                    || !Gemm.PacksEverything(shape.Filters, shape.Window.OutputArea) ? ColumnSource.Unfolded
                    : ShiftedPlanes.Applies(shape) ? ColumnSource.ShiftedPlanes
                    : PaddedImage.Reads(shape) ? ColumnSource.PaddedImage : ColumnSource.Unfolded;
                int size = source switch
                {
                    ColumnSource.ShiftedPlanes => ShiftedPlanes.Size(shape),
                    ColumnSource.PaddedImage => PaddedImage.Size(shape),
                    _ => 0,
                };
                return new ColumnReader(source, shape, size);
            }

            public bool Reads => Source != ColumnSource.Unfolded;

            // The image between its margins (and, for shifted planes, the masks after them).
            public void Pad(ReadOnlySpan<float> x, Span<float> padded)
            {
                if (Source == ColumnSource.ShiftedPlanes) ShiftedPlanes.Pad(x, padded, Shape);
                else PaddedImage.Pad(x, padded, Shape);
            }

            // Filters [first, end) of y from the padded image, as Conv2DKernels.ForwardFilters makes them from the columns.
            public void Multiply(ReadOnlySpan<float> padded, ReadOnlySpan<float> kernel, ReadOnlySpan<float> kernelTransposed, ReadOnlySpan<float> bias,
                Span<float> y, int first, int end, bool rectify)
            {
                if (Source == ColumnSource.ShiftedPlanes)
                {
                    var planes = new ShiftedPlanes(padded, Shape);
                    Conv2DKernels.ForwardFiltersFrom(ref planes, kernel, bias, y, first, end, Shape, rectify: rectify, weightsTransposed: kernelTransposed);
                }
                else
                {
                    var image = new PaddedImage(padded, Shape);
                    Conv2DKernels.ForwardFiltersFrom(ref image, kernel, bias, y, first, end, Shape, rectify: rectify, weightsTransposed: kernelTransposed);
                }
            }
        }

        public DirectBuffers(Conv2D layer, int capacity, bool training, int threads) : base(layer, capacity, training, threads)
        {
            ConvShape s = layer.shape;
            transposedWeights = s.PatchSize >= s.Filters;
            keepsColumns = training && (!transposedWeights || (long)capacity * s.ColumnsSize * sizeof(float) <= RecomputedColumnsBytes);
            columnSlots = keepsColumns ? capacity : Math.Min(capacity, threads);
            columns = new float[(long)columnSlots * s.ColumnsSize];
            forwardColumns = ColumnReader.For(s, keepsColumns);
            if (forwardColumns.Reads) paddedImages = new float[(long)columnSlots * forwardColumns.Size];
            // A long receptive field (288 > 64 filters) makes dWᵀ's product the efficient one, worth transposing each dZ
            // for; a short one (conv1: 9) leaves dWᵀ too few rows to reuse dZᵀ, and dW's dot products over the long
            // OH·OW win. Two blocks of rows per thread, in whole register blocks; how rows are split never changes a
            // sum's order.
            if (training && transposedWeights)
            {
                transposedGradients = new float[(long)capacity * s.OutputSize];
                weightGradientT = new float[s.WeightCount];
            }
            int rows = transposedWeights ? s.PatchSize : s.Filters;
            rowsPerBlock = Math.Max(4, (rows + 2 * threads - 1) / (2 * threads) + 3 & ~3);
            weightBlocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
            if (training && !keepsColumns) blockColumns = new float[(long)weightBlocks * rowsPerBlock * s.Window.OutputArea];
            if (Gemm.TakesColumnsInLanes(s.Filters, s.Window.OutputArea)) kernelTransposed = new float[s.WeightCount];
            filtersPerBlock = BlockSize(s.Filters, 4);
            filterBlocks = (s.Filters + filtersPerBlock - 1) / filtersPerBlock;
            forwardWork = new Work<DirectBuffers>(this, static (b, chunk) => b.ForwardChunk(chunk));
            unfoldWork = new Work<DirectBuffers>(this, static (b, image) =>
                Im2Col.Unfold(b.Pass.Input.AsSpan(image * b.Shape.InputSize, b.Shape.InputSize), b.columns.AsSpan(image * b.Shape.ColumnsSize, b.Shape.ColumnsSize), b.Shape));
            filterBlockWork = new Work<DirectBuffers>(this, static (b, item) => b.ForwardFilterBlock(item / b.filterBlocks, item % b.filterBlocks));
            prepareWork = new Work<DirectBuffers>(this, static (b, image) => b.PrepareImage(image));
            weightGradientWork = new Work<DirectBuffers>(this, static (b, block) => b.WeightGradientBlock(block));
            inputGradientWork = new Work<DirectBuffers>(this, static (b, chunk) => b.InputGradientChunk(chunk));
        }

        public override void Forward(LayerPass pass)
        {
            Pass = pass;
            poolFirst = LoneMaxPooling is not null && Layer.Activation is Activation.Relu or Activation.Linear && AllFinite(Layer.Bias);
            if (kernelTransposed is not null && kernelTransposedVersion != Layer.ParameterVersion)
            {
                Transpose.Matrix(Layer.Kernel, Shape.Filters, Shape.PatchSize, Shape.PatchSize, kernelTransposed, Shape.Filters);
                kernelTransposedVersion = Layer.ParameterVersion;
            }
            if (SplitsImages) // the images fit the column slots: fewer than threads
            {
                pass.Pool.Run(unfoldWork, pass.Batch);
                pass.Pool.Run(filterBlockWork, pass.Batch * filterBlocks);
                return;
            }
            chunks = keepsColumns ? pass.Batch : Math.Min(pass.Batch, columnSlots);
            pass.Pool.Run(forwardWork, chunks);
        }

        public override void Backward(LayerPass pass)
        {
            Pass = pass;
            pass.Pool.Run(prepareWork, pass.Batch);
            // Each block of dW rows sums its images in image order: the same bits for any thread count.
            pass.Pool.Run(weightGradientWork, weightBlocks);
            SumBiasGradient();
            chunks = keepsColumns ? pass.Batch : Math.Min(pass.Batch, columnSlots);
            if (pass.InputGradient is not null) pass.Pool.Run(inputGradientWork, chunks);
        }

        // The images of one chunk (an image each if keepsColumns, a contiguous share otherwise), in order.
        private (int First, int End) ChunkImages(int chunk) =>
            ((int)((long)chunk * Pass.Batch / chunks), (int)((long)(chunk + 1) * Pass.Batch / chunks));

        private void ForwardChunk(int chunk)
        {
            ConvShape s = Shape;
            var (first, end) = ChunkImages(chunk);
            for (int n = first; n < end; n++)
            {
                ReadOnlySpan<float> x = Pass.Input.AsSpan(n * s.InputSize, s.InputSize);
                if (forwardColumns.Reads) forwardColumns.Pad(x, PaddedImageOf(chunk));
                else Im2Col.Unfold(x, columns.AsSpan(chunk * s.ColumnsSize, s.ColumnsSize), s);
                ForwardFilters(n, chunk, 0, s.Filters, fromImage: forwardColumns.Reads);
            }
        }

        private Span<float> PaddedImageOf(int slot) => paddedImages.AsSpan(slot * forwardColumns.Size, forwardColumns.Size);

        // Image n's filters of one block, from its unfolded columns in slot n.
        private void ForwardFilterBlock(int n, int block)
        {
            int first = block * filtersPerBlock;
            ForwardFilters(n, n, first, Math.Min(Shape.Filters, first + filtersPerBlock), fromImage: false);
        }

        // Filters [first, end) of image n from its columns in `slot`, unfolded or read from its padded image there: the product, the bias, the activation and
        // the followers. A max-pooling alone after ReLU or no activation goes before the bias and the activation,
        // which then take a quarter of the values (2×2 windows): both are monotonic, so the window's winner after them is
        // its winner before, and with finite biases the bits are the same, ±0 included (an exact tie after adding the
        // bias is an exact tie before, and ReLU gives +0 for either zero).
        private void ForwardFilters(int n, int slot, int first, int end, bool fromImage)
        {
            ConvShape s = Shape;
            int area = s.Window.OutputArea;
            Span<float> y = OutputOf(n, slot);
            // The product adds the bias and takes a ReLU itself, panel by panel while it is in L1.
            ReadOnlySpan<float> bias = poolFirst ? default : Layer.Bias;
            bool rectify = !poolFirst && Layer.Activation == Activation.Relu;
            if (fromImage) forwardColumns.Multiply(PaddedImageOf(slot), Layer.Kernel, kernelTransposed, bias, y, first, end, rectify);
            else Conv2DKernels.ForwardFilters(columns.AsSpan(slot * s.ColumnsSize, s.ColumnsSize), Layer.Kernel, bias, y, first, end, s, rectify: rectify,
                weightsTransposed: kernelTransposed);
            if (!poolFirst && !rectify) Layer.Activation.Forward(y[(first * area)..(end * area)], (end - first) * area);
            Span<float> pooled = RunFollowers(n, slot, y, first, end);
            if (!poolFirst) return;
            int pooledArea = pooled.Length / s.Filters;
            Conv2DKernels.AddBias(pooled, Layer.Bias, first, end, pooledArea);
            Layer.Activation.Forward(pooled[(first * pooledArea)..(end * pooledArea)], (end - first) * pooledArea);
        }

        private static bool AllFinite(ReadOnlySpan<float> values)
        {
            foreach (float value in values)
                if (!float.IsFinite(value)) return false;
            return true;
        }

        // dZ, this image's dB, and dZᵀ if the weight gradient is taken transposed.
        private void PrepareImage(int n)
        {
            ConvShape s = Shape;
            Span<float> dz = OutputGradientOf(n);
            if (transposedWeights)
                Transpose.Matrix(dz, s.Filters, s.Window.OutputArea, s.Window.OutputArea, transposedGradients.AsSpan(n * s.OutputSize, s.OutputSize), s.Filters);
        }

        private void WeightGradientBlock(int block)
        {
            ConvShape s = Shape;
            int first = block * rowsPerBlock;
            if (!transposedWeights)
            {
                int endFilter = Math.Min(s.Filters, first + rowsPerBlock);
                for (int n = 0; n < Pass.Batch; n++)
                    Conv2DKernels.BackwardWeights(Pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize),
                        columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize), Pass.ParameterGradients.AsSpan(0, s.WeightCount), first, endFilter, accumulate: n > 0, s);
                return;
            }
            int end = Math.Min(s.PatchSize, first + rowsPerBlock);
            for (int n = 0; n < Pass.Batch; n++)
            {
                ReadOnlySpan<float> dyT = transposedGradients.AsSpan(n * s.OutputSize, s.OutputSize);
                if (keepsColumns)
                {
                    Conv2DKernels.BackwardWeightsTransposed(columns.AsSpan(n * s.ColumnsSize, s.ColumnsSize), dyT, weightGradientT, first, end, accumulate: n > 0, s);
                    continue;
                }
                // This block's rows of image n's columns, unfolded again: row `first` at 0.
                Span<float> rows = blockColumns.AsSpan(block * rowsPerBlock * s.Window.OutputArea, (end - first) * s.Window.OutputArea);
                Im2Col.Unfold(Pass.Input.AsSpan(n * s.InputSize, s.InputSize), rows, s, first, end);
                Conv2DKernels.BackwardWeightsTransposed(rows, dyT, weightGradientT.AsSpan(first * s.Filters), 0, end - first, accumulate: n > 0, s);
            }
            // dW (K, C·R·S) takes this block's columns.
            Transpose.Matrix(weightGradientT.AsSpan(first * s.Filters), end - first, s.Filters, s.Filters,
                Pass.ParameterGradients.AsSpan(first, s.WeightCount - first), s.PatchSize);
        }

        // dX of a chunk's images, the chunk's columns their scratch (free once the weight gradient is done).
        private void InputGradientChunk(int chunk)
        {
            ConvShape s = Shape;
            var (first, end) = ChunkImages(chunk);
            for (int n = first; n < end; n++)
                Conv2DKernels.BackwardInput(Pass.OutputGradient.AsSpan(n * s.OutputSize, s.OutputSize), Layer.Kernel,
                    Pass.InputGradient.AsSpan(n * s.InputSize, s.InputSize), columns.AsSpan(chunk * s.ColumnsSize, s.ColumnsSize), s);
        }
    }

    // Winograd F(2×2, 3×3) (Kernels/Winograd.cs) for the forward pass, F(3×3, 2×2) for the weight gradient from the
    // forward's transformed inputs, and the input gradient from the weight gradient's transformed dY: 2.25× fewer
    // multiply-adds than the direct path. Images go in
    // groups of a fixed size, each with its own scratch and its own share of the transformed weight gradient, summed in
    // group order: the same bits for any thread count, and an image's backward pass runs start to end while it is in cache.
    private sealed class WinogradBuffers : ConvBuffers
    {
        private const int GroupSize = 4;
        // Images whose 16 products run as one: a whole group where an image has fewer tiles than this (8×8 images: 16
        // tiles, so a point's product is 16 rows, two blocks of the product's rows), one image otherwise (conv2's 49
        // tiles already make 6 blocks). A 128→128 layer over 8×8 images, against one image a product, in one process:
        // 0.914–0.950 of the time in inference, 0.963–0.974 in training. The same bits: each row's sums are its own.
        private const int FewTiles = 32;
        private readonly int productImages;
        private readonly WinogradTiles tiles;
        private readonly float[] kernels;              // U of the weights as of kernelsVersion: inference reuses it until they change
        private long kernelsVersion = -1;
        private readonly float[]? inputGradientKernels; // W, made each backward pass
        private readonly float[] inputTransforms;      // V per image (training, for dW), per group slot or per image slot when images split: (16, images of a product, tiles, channels) for each product
        private readonly float[]? groupWeightGradients; // Z per group: Σ over its images of V_ξᵀ·Ĝ_ξ per point
        private readonly float[]? weightGradientTransform; // Z summed over the groups
        private readonly float[] scratch;              // per slot
        private readonly int scratchSize;
        private readonly IParallelWork forwardWork, backwardWork, sumWork, finishWork, inputWork, pointWork, rowBlockWork, channelBlockWork;
        private bool poolInside, rectify; // of the forward pass in hand
        private int rowsPerBlock, rowBlocks; // of the output transform, when images split
        private readonly int channelsPerBlock, channelBlocks; // of what follows it, when images split

        public WinogradBuffers(Conv2D layer, int capacity, bool training, int threads) : base(layer, capacity, training, threads)
        {
            ConvShape s = layer.shape;
            tiles = WinogradTiles.Of(s);
            kernels = new float[tiles.KernelSize];
            productImages = tiles.Tiles < FewTiles ? GroupSize : 1;
            // Inference keeps V and scratch per group (V for one product), or per image when fewer images than threads
            // split (at most threads − 1).
            int groups = (capacity + GroupSize - 1) / GroupSize, splitSlots = Math.Min(capacity, threads - 1), slots = Math.Max(groups, splitSlots);
            inputTransforms = new float[(long)(training ? capacity : Math.Max(groups * productImages, splitSlots)) * tiles.InputTransformSize];
            // Backward, a group's scratch holds Ĝ of the image in hand, and after it dY's plane or the input gradient's
            // scratch. The first group's scratch also serves the kernel transforms, made before the groups run.
            scratchSize = Math.Max(tiles.KernelScratchSize, training
                ? Math.Max(tiles.GroupScratchSize(productImages), tiles.GradientTransformSize + Math.Max(tiles.OutputGradientPlaneSize, tiles.InputGradientScratchSize))
                : tiles.GroupScratchSize(productImages));
            scratch = new float[(long)slots * scratchSize];
            if (training)
            {
                inputGradientKernels = new float[tiles.KernelSize];
                groupWeightGradients = new float[(long)groups * tiles.KernelSize];
                weightGradientTransform = new float[tiles.KernelSize];
            }
            forwardWork = new Work<WinogradBuffers>(this, static (b, group) => b.ForwardGroup(group));
            inputWork = new Work<WinogradBuffers>(this, static (b, image) =>
                Winograd.TransformInput(b.Pass.Input.AsSpan(image * b.Shape.InputSize, b.Shape.InputSize), b.InputTransform(image), b.Scratch(image), b.tiles));
            pointWork = new Work<WinogradBuffers>(this, static (b, item) =>
                Winograd.MultiplyPoint(b.InputTransform(item / WinogradTiles.Points), b.kernels, b.Scratch(item / WinogradTiles.Points), b.tiles, item % WinogradTiles.Points));
            rowBlockWork = new Work<WinogradBuffers>(this, static (b, item) => b.FinishRowBlock(item / b.rowBlocks, item % b.rowBlocks));
            channelBlockWork = new Work<WinogradBuffers>(this, static (b, item) =>
            {
                int n = item / b.channelBlocks, first = item % b.channelBlocks * b.channelsPerBlock;
                b.FinishChannels(n, n, first, Math.Min(b.Shape.Filters, first + b.channelsPerBlock));
            });
            channelsPerBlock = BlockSize(s.Filters, 1);
            channelBlocks = (s.Filters + channelsPerBlock - 1) / channelsPerBlock;
            backwardWork = new Work<WinogradBuffers>(this, static (b, group) => b.BackwardGroup(group));
            sumWork = new Work<WinogradBuffers>(this, static (b, point) => b.SumGroups(point));
            finishWork = new Work<WinogradBuffers>(this, static (b, channel) =>
                Winograd.FinishWeightGradient(b.weightGradientTransform, b.Pass.ParameterGradients.AsSpan(0, b.Shape.WeightCount), channel, b.tiles));
        }

        public override void Forward(LayerPass pass)
        {
            Pass = pass;
            if (kernelsVersion != Layer.ParameterVersion)
            {
                Winograd.TransformKernels(Layer.Kernel, kernels, Scratch(0), tiles, forInputGradient: false);
                kernelsVersion = Layer.ParameterVersion;
            }
            rectify = Layer.Activation == Activation.Relu; // inside the output transform, the same bits as its own pass over y
            // A 2×2 max-pooling after ReLU or no activation goes inside the output transform too: the tiles are its windows.
            poolInside = LoneMaxPooling is { } pooling && Pooling2DKernels.IsTwoByTwo(pooling.Window) && (rectify || Layer.Activation == Activation.Linear);
            if (SplitsImages)
            {
                int rows = Winograd.OutputRows(tiles, poolInside);
                rowsPerBlock = BlockSize(rows, 1);
                rowBlocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
                pass.Pool.Run(inputWork, pass.Batch);
                pass.Pool.Run(pointWork, pass.Batch * WinogradTiles.Points);
                pass.Pool.Run(rowBlockWork, pass.Batch * rowBlocks);
                // What the output transform did not take (another activation, the followers) by blocks of channels.
                if (!poolInside && (!rectify && Layer.Activation != Activation.Linear || pass.Followers.Count > 0))
                    pass.Pool.Run(channelBlockWork, pass.Batch * channelBlocks);
                return;
            }
            pass.Pool.Run(forwardWork, Groups(pass.Batch));
        }

        public override void Backward(LayerPass pass)
        {
            Pass = pass;
            if (pass.InputGradient is not null) Winograd.TransformKernels(Layer.Kernel, inputGradientKernels, Scratch(0), tiles, forInputGradient: true);
            pass.Pool.Run(backwardWork, Groups(pass.Batch));
            pass.Pool.Run(sumWork, WinogradTiles.Points);
            pass.Pool.Run(finishWork, Shape.InputChannels);
            SumBiasGradient();
        }

        private static int Groups(int batch) => (batch + GroupSize - 1) / GroupSize;

        private (int First, int End) GroupImages(int group) => (group * GroupSize, Math.Min(Pass.Batch, (group + 1) * GroupSize));

        private Span<float> Scratch(int group) => scratch.AsSpan(group * scratchSize, scratchSize);

        private Span<float> InputTransform(int slot) => inputTransforms.AsSpan(slot * tiles.InputTransformSize, tiles.InputTransformSize);

        // The images of a group that one product takes, [First, First + Count), for image n of the group; the same cut
        // forward and backward.
        private (int First, int Count) ProductImages(int group, int n)
        {
            int first = group * GroupSize + (n - group * GroupSize) / productImages * productImages;
            return (first, Math.Min(productImages, Pass.Batch - first));
        }

        // V of the product over images [first, first + count) of a group: each image's own in training (the weight
        // gradient reads it again), otherwise the group's slot, which its products take in turn.
        private Span<float> ProductTransform(int group, int first, int count) =>
            inputTransforms.AsSpan((Pass.Training ? first : group * productImages) * tiles.InputTransformSize, count * tiles.InputTransformSize);

        private void ForwardGroup(int group)
        {
            ConvShape s = Shape;
            var (groupFirst, groupEnd) = GroupImages(group);
            Span<float> work = Scratch(group);
            for (int first = groupFirst; first < groupEnd; first += productImages)
            {
                int count = ProductImages(group, first).Count;
                Span<float> v = ProductTransform(group, first, count);
                for (int i = 0; i < count; i++)
                    Winograd.TransformInput(Pass.Input.AsSpan((first + i) * s.InputSize, s.InputSize), v, work, tiles, image: i, images: count);
                for (int point = 0; point < WinogradTiles.Points; point++) Winograd.MultiplyPoint(v, kernels, work, tiles, point, images: count);
                for (int i = 0; i < count; i++)
                {
                    int n = first + i;
                    Winograd.FinishOutput(Layer.Bias, poolInside ? PooledOutputOf(n) : OutputOf(n, group), work, tiles, 0, Winograd.OutputRows(tiles, poolInside),
                        rectify: rectify, pool: poolInside, image: i, images: count);
                    if (!poolInside) FinishChannels(n, group, 0, s.Filters);
                }
            }
        }

        private Span<float> PooledOutputOf(int n)
        {
            LayerPass pooling = Pass.Followers[0];
            int size = pooling.Layer.OutputShape.Size;
            return pooling.Output.AsSpan(n * size, size);
        }

        // One block of rows of image n's output, its V and every point's M made in slot n.
        private void FinishRowBlock(int n, int block)
        {
            int first = block * rowsPerBlock, end = Math.Min(Winograd.OutputRows(tiles, poolInside), first + rowsPerBlock);
            Winograd.FinishOutput(Layer.Bias, poolInside ? PooledOutputOf(n) : OutputOf(n, n), Scratch(n), tiles, first, end, rectify: rectify, pool: poolInside);
        }

        // Channels [first, end) of image n's output (at the place of `chunk`), once the output transform has made them:
        // the activation if the transform did not take it, then the followers.
        private void FinishChannels(int n, int chunk, int first, int end)
        {
            int area = Shape.Window.OutputArea;
            Span<float> y = OutputOf(n, chunk);
            if (!rectify) Layer.Activation.Forward(y[(first * area)..(end * area)], (end - first) * area);
            RunFollowers(n, chunk, y, first, end);
        }

        // Each image in turn: dZ, Ĝ, its share of the group's Z, and dX from the same Ĝ.
        private void BackwardGroup(int group)
        {
            ConvShape s = Shape;
            var (first, end) = GroupImages(group);
            Span<float> work = Scratch(group);
            Span<float> gradient = work[..tiles.GradientTransformSize];
            Span<float> rest = work[gradient.Length..];
            Span<float> z = groupWeightGradients.AsSpan(group * tiles.KernelSize, tiles.KernelSize);
            for (int n = first; n < end; n++)
            {
                Winograd.TransformOutputGradient(OutputGradientOf(n), gradient, rest[..tiles.OutputGradientPlaneSize], tiles);
                var (productFirst, count) = ProductImages(group, n);
                ReadOnlySpan<float> v = ProductTransform(group, productFirst, count);
                for (int point = 0; point < WinogradTiles.Points; point++)
                    Winograd.AccumulateWeightGradient(v, gradient, z, point, 0, tiles.PaddedChannels, accumulate: n > first, tiles,
                        image: n - productFirst, images: count);
                if (Pass.InputGradient is not null)
                    Winograd.InputGradient(gradient, inputGradientKernels, Pass.InputGradient.AsSpan(n * s.InputSize, s.InputSize),
                        rest[..tiles.InputGradientScratchSize], tiles);
            }
        }

        // One point of Z: the groups' shares in group order.
        private void SumGroups(int point)
        {
            Span<float> sum = weightGradientTransform.AsSpan(point * tiles.KernelPointStride, tiles.KernelPointStride);
            for (int group = 0; group < Groups(Pass.Batch); group++)
            {
                ReadOnlySpan<float> share = groupWeightGradients.AsSpan(group * tiles.KernelSize + point * tiles.KernelPointStride, tiles.KernelPointStride);
                if (group == 0) share.CopyTo(sum);
                else InCache.Add(sum, share, sum); // 1 MB for 512 channels to 512 filters
            }
        }
    }
}
