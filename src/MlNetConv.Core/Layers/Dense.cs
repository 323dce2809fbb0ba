using System.Numerics.Tensors;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>Dense</c>: y = f(x·W + b). Input (D) per sample, output (units); kernel (D, units) as Keras lays it
/// out, Glorot-uniform; bias (units), zeros. A softmax on the model's last Dense layer is fused with the loss.
/// </summary>
/// <example><c>new Dense(100, Activation.Relu)</c> on (3136) has 313,700 parameters.</example>
public sealed class Dense : Layer
{
    /// <summary>A fully connected layer of <paramref name="units"/> outputs.</summary>
    public Dense(int units, Activation activation = Activation.Linear, bool useBias = true, string? name = null) : base(name)
    {
        if (units < 1) throw new ArgumentOutOfRangeException(nameof(units), units, "Dense needs at least one unit.");
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        Units = units;
        Activation = activation;
        UseBias = useBias;
    }

    /// <summary>Outputs per sample.</summary>
    public int Units { get; }

    /// <summary>Applied after the bias.</summary>
    public Activation Activation { get; }

    /// <summary>Whether a bias per unit is added.</summary>
    public bool UseBias { get; }

    /// <inheritdoc />
    public override string TypeName => "Dense";

    internal override Activation OutputActivation => Activation;

    private int Inputs => InputShape.Size;

    /// <inheritdoc />
    public override int ParameterCount => Inputs * Units + (UseBias ? Units : 0);

    /// <summary>The kernel, laid out (inputs, units).</summary>
    public ReadOnlySpan<float> Kernel => Parameters.AsSpan(0, Inputs * Units);

    /// <summary>The bias per unit (empty without bias).</summary>
    public ReadOnlySpan<float> Bias => UseBias ? Parameters.AsSpan(Inputs * Units, Units) : default;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank != 1) throw ShapeError(input, "Dense needs a flat input; put a Flatten layer before it");
        return Shape.Vector(Units);
    }

    /// <inheritdoc />
    public override Layer Clone() => new Dense(Units, Activation, UseBias, Name);

    internal override void InitializeParameters(Random random)
    {
        GlorotUniform(Parameters.AsSpan(0, Inputs * Units), Inputs, Units, random);
        Parameters.AsSpan(Inputs * Units).Clear();
    }

    internal override LayerBuffers CreateBuffers(int capacity, bool training, int threads) => new Buffers(this, capacity, training, threads);

    internal override void ForwardPass(LayerPass pass)
    {
        var buffers = ((Buffers)pass.Buffers!).Bind(pass);
        pass.Pool.Run(buffers.ForwardWork, buffers.RowChunks);
    }

    internal override void BackwardPass(LayerPass pass)
    {
        var buffers = ((Buffers)pass.Buffers!).Bind(pass);
        int n = pass.Batch;
        Span<float> dz = pass.OutputGradient.AsSpan(0, n * Units);
        if (!pass.OutputGradientIsPreActivation)
            Activation.Backward(pass.Output.AsSpan(0, n * Units), dz, dz, Units);
        if (UseBias) RowSum.Sum(dz, n, pass.ParameterGradients.AsSpan(Inputs * Units, Units));
        buffers.TransposeOutputGradient();
        pass.Pool.Run(buffers.BackwardWork, buffers.InputBlocks);
    }

    internal override void WriteConfig(BinaryWriter writer)
    {
        writer.Write(Units);
        writer.Write((byte)Activation);
        writer.Write(UseBias);
    }

    /// <summary>Gemm, Y = X·W + B with W (inputs, units) (MatMul without bias), then the activation.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        string kernel = graph.AddInitializer($"{Name}/kernel", Kernel, Inputs, Units);
        string output = graph.AddValue(Activation.PreActivationName(Name), OutputShape);
        if (UseBias) graph.AddNode("Gemm", Name, [input, kernel, graph.AddInitializer($"{Name}/bias", Bias, Units)], [output]);
        else graph.AddNode("MatMul", Name, [input, kernel], [output]);
        return Activation.ToOnnx(graph, output, OutputShape, Name);
    }

    internal static Dense ReadConfig(BinaryReader reader, string name) =>
        new(reader.ReadInt32(), (Activation)reader.ReadByte(), reader.ReadBoolean(), name);

    private sealed class Buffers : LayerBuffers
    {
        // Inputs per backward work item: enough work per item to be worth a hand-off, enough items to share.
        private const int InputsPerBlock = 64;

        private readonly Dense layer;
        private readonly int threads;
        private readonly float[]? transposedOutputGradient; // (units, capacity): dZᵀ
        private readonly float[]? transposedInputGradient;  // (inputs, capacity): dXᵀ
        private LayerPass pass = null!;

        public Buffers(Dense layer, int capacity, bool training, int threads)
        {
            this.layer = layer;
            this.threads = threads;
            if (training)
            {
                transposedOutputGradient = new float[layer.Units * capacity];
                transposedInputGradient = new float[(long)layer.Inputs * capacity];
            }
            ForwardWork = new Work<Buffers>(this, static (b, chunk) => b.ForwardRows(chunk));
            BackwardWork = new Work<Buffers>(this, static (b, block) => b.BackwardBlock(block));
        }

        public IParallelWork ForwardWork { get; }

        public IParallelWork BackwardWork { get; }

        // Fewer samples than threads (batch-1 latency): the units split into column blocks instead, each reading its
        // share of W, where the product is bound by reading W. Softmax needs whole rows, so it keeps one block.
        private bool SplitUnits => pass.Batch < threads && layer.Activation != Activation.Softmax && layer.Units >= 2 * UnitsPerBlock;

        // Whole 512-bit registers per column block.
        private const int UnitsPerBlock = 16;

        public int RowChunks => SplitUnits ? threads : Math.Min(pass.Batch, threads);

        public int InputBlocks => (layer.Inputs + InputsPerBlock - 1) / InputsPerBlock;

        public Buffers Bind(LayerPass current)
        {
            pass = current;
            return this;
        }

        // Rows (samples) of a chunk, all units; or, when the units are split, every row and a block of units. Each output
        // is the same sum either way.
        private void ForwardRows(int chunk)
        {
            int d = layer.Inputs, u = layer.Units, blocks = (u + UnitsPerBlock - 1) / UnitsPerBlock;
            int first = 0, end = pass.Batch, firstUnit = 0, endUnit = u;
            if (SplitUnits)
            {
                firstUnit = chunk * blocks / RowChunks * UnitsPerBlock;
                endUnit = Math.Min(u, (chunk + 1) * blocks / RowChunks * UnitsPerBlock);
            }
            else
                (first, end) = ((int)((long)chunk * pass.Batch / RowChunks), (int)((long)(chunk + 1) * pass.Batch / RowChunks));
            int count = end - first;
            int width = endUnit - firstUnit;
            Span<float> y = pass.Output.AsSpan(first * u + firstUnit, (count - 1) * u + width);
            Gemm.MultiplyNN(count, width, d, pass.Input.AsSpan(first * d, count * d), d, layer.Kernel[firstUnit..], u, y, u, accumulate: false);
            for (int row = 0; row < count; row++)
            {
                Span<float> r = y.Slice(row * u, width);
                if (layer.UseBias) TensorPrimitives.Add(r, layer.Bias[firstUnit..endUnit], r);
                layer.Activation.Forward(r, width);
            }
        }

        public void TransposeOutputGradient() =>
            Transpose.Matrix(pass.OutputGradient, pass.Batch, layer.Units, layer.Units, transposedOutputGradient, pass.Batch);

        // Inputs [first, first + count): their rows of dW = Xᵀ·dZ and their columns of dX = dZ·Wᵀ, the latter as the
        // rows of dXᵀ = W·dZᵀ (a broadcast product over the short units axis; dX's dot products would each end in a
        // horizontal sum). Each element sums in a fixed order, whatever the blocking.
        private void BackwardBlock(int block)
        {
            int n = pass.Batch, d = layer.Inputs, u = layer.Units;
            int first = block * InputsPerBlock, count = Math.Min(InputsPerBlock, d - first);
            ReadOnlySpan<float> dz = pass.OutputGradient.AsSpan(0, n * u);
            Gemm.MultiplyTN(count, u, n, pass.Input.AsSpan(first, (n - 1) * d + count), d, dz, u,
                pass.ParameterGradients.AsSpan(first * u, count * u), u, accumulate: false);
            if (pass.InputGradient is not { } dx) return;
            Span<float> dxT = transposedInputGradient.AsSpan(first * n, count * n);
            Gemm.MultiplyNN(count, n, u, layer.Kernel[(first * u)..], u, transposedOutputGradient, n, dxT, n, accumulate: false);
            Transpose.Matrix(dxT, count, n, n, dx.AsSpan(first, (n - 1) * d + count), d);
        }
    }
}
