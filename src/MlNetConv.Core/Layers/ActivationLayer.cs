using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>
/// Keras's <c>Activation</c> layer: applies an activation on its own. Any shape (softmax: flat inputs only,
/// over each sample's values). No parameters.
/// </summary>
public sealed class ActivationLayer : Layer
{
    /// <summary>A layer that applies <paramref name="activation"/>.</summary>
    public ActivationLayer(Activation activation, string? name = null) : base(name)
    {
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        Activation = activation;
    }

    /// <summary>The function applied.</summary>
    public Activation Activation { get; }

    /// <inheritdoc />
    public override string TypeName => "Activation";

    internal override Activation OutputActivation => Activation;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (Activation == Activation.Softmax && input.Rank != 1) throw ShapeError(input, "softmax needs a flat input; put a Flatten layer before it");
        return input;
    }

    /// <inheritdoc />
    public override Layer Clone() => new ActivationLayer(Activation, Name);

    internal override void ForwardPass(LayerPass pass)
    {
        Span<float> y = pass.Output.AsSpan(0, pass.Batch * InputShape.Size);
        pass.Input.AsSpan(0, y.Length).CopyTo(y);
        Activation.Forward(y, InputShape.Size);
    }

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is null) return;
        int length = pass.Batch * InputShape.Size;
        Span<float> dx = pass.InputGradient.AsSpan(0, length);
        if (pass.OutputGradientIsPreActivation) pass.OutputGradient.AsSpan(0, length).CopyTo(dx);
        else Activation.Backward(pass.Output.AsSpan(0, length), pass.OutputGradient.AsSpan(0, length), dx, InputShape.Size);
    }

    internal override void WriteConfig(BinaryWriter writer) => writer.Write((byte)Activation);

    internal override string ToOnnx(IOnnxGraph graph, string input) => Activation.ToOnnx(graph, input, OutputShape, Name);

    internal static ActivationLayer ReadConfig(BinaryReader reader, string name) => new((Activation)reader.ReadByte(), name);
}
