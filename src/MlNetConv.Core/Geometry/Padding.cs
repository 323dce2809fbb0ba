namespace MlNetConv.Core.Geometry;

/// <summary>How much zero padding surrounds the input of a sliding-window operation.</summary>
public enum Padding
{
    /// <summary>No padding: the window stays inside the input; output = floor((in − k) / s) + 1.</summary>
    Valid,

    /// <summary>
    /// Keras/TensorFlow "same": output = ceil(in / s); the padding total is split with the odd extra
    /// row or column at the bottom/right.
    /// </summary>
    Same,

    /// <summary>k − 1 zeros on every side, so every partial overlap counts: output = floor((in + k − 2) / s) + 1.</summary>
    Full,
}
