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

    internal static Flatten ReadConfig(BinaryReader reader, string name) => new(name);
}
