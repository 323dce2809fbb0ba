namespace MlNetConv.Core.Kernels.Reference;

/// <summary>
/// Global pooling of one image as the definition reads, in plain loops: the reference
/// <see cref="GlobalPooling2DKernels"/> is tested against. x (C, H, W) with A = H·W values per channel, y (C).
/// </summary>
internal static class GlobalPooling2DReference
{
    public static void AverageForward(ReadOnlySpan<float> x, Span<float> y, int area)
    {
        for (int c = 0; c < y.Length; c++)
        {
            double sum = 0;
            for (int i = 0; i < area; i++) sum += x[c * area + i];
            y[c] = (float)(sum / area);
        }
    }

    /// <summary>The first maximum of each channel, a NaN counting as larger than everything.</summary>
    public static void MaxForward(ReadOnlySpan<float> x, Span<float> y, Span<int> argMax, int area)
    {
        for (int c = 0; c < y.Length; c++)
        {
            int best = 0;
            for (int i = 1; i < area && !float.IsNaN(x[c * area + best]); i++)
                if (float.IsNaN(x[c * area + i]) || x[c * area + i] > x[c * area + best]) best = i;
            y[c] = x[c * area + best];
            argMax[c] = best;
        }
    }
}
