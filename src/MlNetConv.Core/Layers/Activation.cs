using MlNetConv.Core.Kernels;
using MlNetConv.Core.Onnx;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Layers;

/// <summary>The element-wise function a layer applies to its output (Keras's <c>activation</c> argument).</summary>
public enum Activation
{
    /// <summary>a = z.</summary>
    Linear,

    /// <summary>a = max(z, 0).</summary>
    Relu,

    /// <summary>a = 1 / (1 + e^−z).</summary>
    Sigmoid,

    /// <summary>a = tanh(z).</summary>
    Tanh,

    /// <summary>a = e^z / Σ e^z over each sample's units (Dense and ActivationLayer on flat inputs only).</summary>
    Softmax,
}

/// <summary>An <see cref="Activation"/> applied through its kernel in <see cref="Activations"/>: the one switch over the functions.</summary>
internal static class ActivationFunctions
{
    /// <summary>a = f(z) in place, over rows of <paramref name="rowLength"/> values (softmax is per row).</summary>
    public static void Forward(this Activation activation, Span<float> values, int rowLength)
    {
        switch (activation)
        {
            case Activation.Linear: break;
            case Activation.Relu: Activations.Relu(values); break;
            case Activation.Sigmoid: Activations.Sigmoid(values); break;
            case Activation.Tanh: Activations.Tanh(values); break;
            case Activation.Softmax: Activations.Softmax(values, rowLength); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>dZ = f'(z)·dA from the outputs a; may run in place.</summary>
    public static void Backward(this Activation activation, ReadOnlySpan<float> a, ReadOnlySpan<float> da, Span<float> dz, int rowLength)
    {
        switch (activation)
        {
            case Activation.Linear: da.CopyTo(dz); break;
            case Activation.Relu: Activations.ReluBackward(a, da, dz); break;
            case Activation.Sigmoid: Activations.SigmoidBackward(a, da, dz); break;
            case Activation.Tanh: Activations.TanhBackward(a, da, dz); break;
            case Activation.Softmax: Activations.SoftmaxBackward(a, da, dz, rowLength); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>
    /// Adds the function's ONNX node after value <paramref name="input"/> (N samples of <paramref name="shape"/>), named after
    /// <paramref name="layerName"/>; returns its output value, or <paramref name="input"/> for the linear function.
    /// </summary>
    public static string ToOnnx(this Activation activation, IOnnxGraph graph, string input, Shape shape, string layerName)
    {
        string? op = activation switch
        {
            Activation.Linear => null,
            Activation.Relu => "Relu",
            Activation.Sigmoid => "Sigmoid",
            Activation.Tanh => "Tanh",
            Activation.Softmax => "Softmax",
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
        };
        if (op is null) return input;
        string output = graph.AddValue(layerName, shape);
        IOnnxNode node = graph.AddNode(op, $"{layerName}/{op.ToLowerInvariant()}", [input], [output]);
        // Softmax over each sample's units: axis 1 of (N, D) means the same in every opset.
        if (activation == Activation.Softmax) node.Attribute("axis", 1L);
        return output;
    }

    /// <summary>The name of the value a layer's own operator writes: the layer's, or a pre-activation one when an activation follows.</summary>
    public static string PreActivationName(this Activation activation, string layerName) =>
        activation == Activation.Linear ? layerName : $"{layerName}/preactivation";
}
