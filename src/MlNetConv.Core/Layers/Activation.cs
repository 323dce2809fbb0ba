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
