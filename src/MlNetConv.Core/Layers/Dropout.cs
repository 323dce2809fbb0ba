using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>Dropout</c>: in training each value is zeroed with probability <see cref="Rate"/> and the survivors
/// are scaled by 1 / (1 − rate) (inverted dropout), so inference is the identity. Any shape; no parameters.
/// Masks come from the model's seeded training stream, drawn on one thread, so runs repeat exactly.
/// </summary>
public sealed class Dropout : Layer
{
    /// <summary>A dropout layer that drops a fraction <paramref name="rate"/> in [0, 1).</summary>
    public Dropout(double rate, string? name = null) : base(name)
    {
        if (!(rate >= 0 && rate < 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        Rate = rate;
    }

    /// <summary>The fraction of values dropped in training.</summary>
    public double Rate { get; }

    /// <inheritdoc />
    public override string TypeName => "Dropout";

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;

    /// <inheritdoc />
    public override Layer Clone() => new Dropout(Rate, Name);

    internal override LayerBuffers? CreateBuffers(int capacity, bool training, int threads) =>
        training ? new MaskBuffer(new float[(long)capacity * InputShape.Size]) : null;

    internal override void ForwardPass(LayerPass pass)
    {
        int length = pass.Batch * InputShape.Size;
        if (!pass.Training || Rate == 0)
        {
            pass.Input.AsSpan(0, length).CopyTo(pass.Output);
            return;
        }
        Span<float> mask = ((MaskBuffer)pass.Buffers!).Mask.AsSpan(0, length);
        Random random = pass.Random ?? throw new InvalidOperationException($"{Describe()} needs the model's random stream in training.");
        float keep = (float)(1 / (1 - Rate));
        for (int i = 0; i < mask.Length; i++) mask[i] = random.NextDouble() >= Rate ? keep : 0f;
        InCache.Multiply(pass.Input.AsSpan(0, length), mask, pass.Output.AsSpan(0, length));
    }

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is null) return;
        int length = pass.Batch * InputShape.Size;
        if (!pass.Training || Rate == 0)
        {
            pass.OutputGradient.AsSpan(0, length).CopyTo(pass.InputGradient);
            return;
        }
        InCache.Multiply(pass.OutputGradient.AsSpan(0, length), ((MaskBuffer)pass.Buffers!).Mask.AsSpan(0, length),
            pass.InputGradient.AsSpan(0, length));
    }

    internal override void WriteConfig(BinaryWriter writer) => writer.Write(Rate);

    /// <summary>Dropout drops nothing in prediction: no node.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input) => input;

    internal static Dropout ReadConfig(BinaryReader reader, string name) => new(reader.ReadDouble(), name);

    private sealed class MaskBuffer(float[] mask) : LayerBuffers
    {
        public float[] Mask { get; } = mask;
    }
}
