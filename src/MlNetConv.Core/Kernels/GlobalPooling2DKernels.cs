using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Global pooling of one image, forward and backward side by side. x (C, H, W) with A = H·W values per channel;
/// y (C). Average: y_c = Σ x_c / A, dX_c = dY_c / A everywhere. Max: y_c = max x_c, the gradient goes to the first
/// maximum of the channel (as MaxPooling2D does with ties), and a NaN anywhere in a channel is its maximum.
/// </summary>
internal static class GlobalPooling2DKernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AverageForward(ReadOnlySpan<float> x, Span<float> y, int area)
    {
        for (int c = 0; c < y.Length; c++) y[c] = TensorPrimitives.Sum(x.Slice(c * area, area)) / area;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AverageBackward(ReadOnlySpan<float> dy, Span<float> dx, int area)
    {
        for (int c = 0; c < dy.Length; c++) dx.Slice(c * area, area).Fill(dy[c] / area);
    }

    /// <summary>y_c = max x_c; <paramref name="argMax"/>[c] is its first position within the channel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward(ReadOnlySpan<float> x, Span<float> y, Span<int> argMax, int area)
    {
        for (int c = 0; c < y.Length; c++)
        {
            ReadOnlySpan<float> channel = x.Slice(c * area, area);
            int index = TensorPrimitives.IndexOfMax(channel); // the first maximum; the first NaN if there is one
            y[c] = channel[index];
            if (!argMax.IsEmpty) argMax[c] = index;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argMax, Span<float> dx, int area)
    {
        dx.Clear();
        for (int c = 0; c < dy.Length; c++) dx[c * area + argMax[c]] = dy[c];
    }
}
