using System.Runtime.CompilerServices;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Single-channel 2-D cross-correlation and convolution as the course defines them:
/// (X ★ K)[i, j] = Σ_r Σ_s X[i + r − padTop, j + s − padLeft] · K[r, s], zero outside X;
/// convolution is cross-correlation with the kernel rotated by 180°.
/// <see cref="Padding.Valid"/> keeps the window inside X, <see cref="Padding.Same"/> keeps X's size
/// (Keras offsets: the odd extra row/column of padding goes bottom/right), <see cref="Padding.Full"/> counts
/// every partial overlap.
/// </summary>
/// <example>
/// [[1,6,2],[5,3,1],[7,0,4]] ★ [[1,2],[−1,0]] with valid padding is [[8,7],[4,5]].
/// </example>
public static class CrossCorrelation
{
    /// <summary>Returns X ★ K with stride 1.</summary>
    public static float[,] Correlate(float[,] input, float[,] kernel, Padding padding)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(kernel);
        var window = Window2D.Create(input.GetLength(0), input.GetLength(1), kernel.GetLength(0), kernel.GetLength(1), 1, 1, padding);
        var output = new float[window.Rows.Output, window.Columns.Output];
        Correlate(Flatten(input), Flatten(kernel), window, Flatten(output));
        return output;
    }

    /// <summary>Returns X ∗ K = X ★ rot180(K) with stride 1.</summary>
    public static float[,] Convolve(float[,] input, float[,] kernel, Padding padding) =>
        Correlate(input, Rotate180(kernel), padding);

    /// <summary>The kernel turned by 180°: K'[r, s] = K[R − 1 − r, S − 1 − s].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float[,] Rotate180(float[,] kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        int rows = kernel.GetLength(0), cols = kernel.GetLength(1);
        var rotated = new float[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < cols; s++)
                rotated[r, s] = kernel[rows - 1 - r, cols - 1 - s];
        return rotated;
    }

    /// <summary>
    /// output[oy, ox] = Σ_r Σ_s input[oy·sy + r − padTop, ox·sx + s − padLeft] · kernel[r, s] over row-major spans,
    /// for any stride and padding described by <paramref name="window"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Correlate(ReadOnlySpan<float> input, ReadOnlySpan<float> kernel, Window2D window, Span<float> output)
    {
        var (rows, cols) = (window.Rows, window.Columns);
        if (input.Length != window.InputArea || kernel.Length != window.WindowArea || output.Length != window.OutputArea)
            throw new ArgumentException(
                $"Spans do not match the window: input {input.Length} (expected {window.InputArea}), " +
                $"kernel {kernel.Length} (expected {window.WindowArea}), output {output.Length} (expected {window.OutputArea}).");
        for (int oy = 0; oy < rows.Output; oy++)
            for (int ox = 0; ox < cols.Output; ox++)
            {
                float sum = 0;
                for (int r = 0; r < rows.Window; r++)
                {
                    int iy = oy * rows.Stride + r - rows.PadBefore;
                    if ((uint)iy >= (uint)rows.Input) continue;
                    for (int s = 0; s < cols.Window; s++)
                    {
                        int ix = ox * cols.Stride + s - cols.PadBefore;
                        if ((uint)ix < (uint)cols.Input) sum += input[iy * cols.Input + ix] * kernel[r * cols.Window + s];
                    }
                }
                output[oy * cols.Output + ox] = sum;
            }
    }

    private static Span<float> Flatten(float[,] matrix) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref matrix[0, 0], matrix.Length);
}
