using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>Keras's <c>Flatten</c>: (C, H, W) → (C·H·W), in channels-first order. No parameters.</summary>
public sealed class Flatten(string? name = null) : Layer(name)
{
    /// <inheritdoc />
    public override string TypeName => "Flatten";

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => Shape.Vector(input.Size);

    /// <inheritdoc />
    public override Layer Clone() => new Flatten(Name);

    internal override void ForwardPass(LayerPass pass) =>
        pass.Input.AsSpan(0, pass.Batch * InputShape.Size).CopyTo(pass.Output);

    internal override void BackwardPass(LayerPass pass)
    {
        if (pass.InputGradient is not null) pass.OutputGradient.AsSpan(0, pass.Batch * InputShape.Size).CopyTo(pass.InputGradient);
    }

    internal override void WriteConfig(BinaryWriter writer)
    {
    }

    /// <summary>ONNX Flatten at axis 1 keeps channels-first order, as this layer does; a flat input passes through.</summary>
    internal override string ToOnnx(IOnnxGraph graph, string input)
    {
        if (InputShape.Rank == 1) return input;
        string output = graph.AddValue(Name, OutputShape);
        graph.AddNode("Flatten", Name, [input], [output]).Attribute("axis", 1L);
        return output;
    }

    internal static Flatten ReadConfig(BinaryReader reader, string name) => new(name);
}
