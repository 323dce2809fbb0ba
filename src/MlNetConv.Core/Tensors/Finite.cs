using System.Numerics.Tensors;

namespace MlNetConv.Core.Tensors;

/// <summary>The one scan for NaN and infinities in inputs, weights and gradients, so each caller only words its error.</summary>
internal static class Finite
{
    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or −1 when all are finite.</summary>
    public static int IndexOfFirstNonFinite(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return -1;
        // A NaN anywhere makes the largest magnitude NaN, an infinity makes it infinite: one vectorised pass in the usual case.
        if (float.IsFinite(values[TensorPrimitives.IndexOfMaxMagnitude(values)])) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
