using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MlNetConv.Geometry;

namespace MlNetConv.Kernels;

/// <summary>
/// 2-D max and average pooling for one image, channel by channel. x (C, H, W), y (C, OH, OW).
/// Padded positions never win a max and never count in an average (TensorFlow's rule for "same").
/// </summary>
internal static class Pooling2DKernels
{
    /// <summary>
    /// y = max over each window; argMax[o] is the index in x (within this image) of the first maximum (NaN wins).
    /// The textbook's 2×2 windows with stride 2 and no padding take an unrolled path; every other window the general
    /// loop of <see cref="Reference.Pooling2DReference.MaxForward"/>.
    /// </summary>
    public static void MaxForward(ReadOnlySpan<float> x, Span<float> y, Span<int> argMax, int channels, in Window2D window)
    {
        var (rows, cols) = (window.Rows, window.Columns);
        bool twoByTwo = rows.Window == 2 && cols.Window == 2 && rows.Stride == 2 && cols.Stride == 2 &&
            rows.PadBefore == 0 && cols.PadBefore == 0 && rows.Input >= 2 * rows.Output && cols.Input >= 2 * cols.Output;
        if (!twoByTwo)
        {
            Reference.Pooling2DReference.MaxForward(x, y, argMax, channels, window);
            return;
        }
        int width = cols.Input, inArea = window.InputArea, outArea = window.OutputArea;
        if (x.Length < channels * inArea || y.Length < channels * outArea || (!argMax.IsEmpty && argMax.Length < channels * outArea))
            throw new ArgumentException("Pooling spans are shorter than the window needs.");
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        bool keepIndices = !argMax.IsEmpty;
        ref int ri = ref MemoryMarshal.GetReference(argMax);
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < rows.Output; oy++)
            {
                int top = c * inArea + 2 * oy * width, o = c * outArea + oy * cols.Output;
                for (int ox = 0; ox < cols.Output; ox++, top += 2, o++)
                {
                    // Scan order (0,0), (0,1), (1,0), (1,1): the first maximum wins, and a NaN wins outright.
                    int best = top;
                    float value = Unsafe.Add(ref rx, top);
                    if (!float.IsNaN(value))
                    {
                        Take(ref rx, top + 1, ref best, ref value);
                        if (!float.IsNaN(value)) Take(ref rx, top + width, ref best, ref value);
                        if (!float.IsNaN(value)) Take(ref rx, top + width + 1, ref best, ref value);
                    }
                    Unsafe.Add(ref ry, o) = value;
                    if (keepIndices) Unsafe.Add(ref ri, o) = best;
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref float x, int index, ref int best, ref float value)
    {
        float candidate = Unsafe.Add(ref x, index);
        if (candidate > value || float.IsNaN(candidate))
        {
            value = candidate;
            best = index;
        }
    }

    /// <summary>dx = 0, then each dy is routed to the input that won its window.</summary>
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argMax, Span<float> dx, int inputSize)
    {
        dx[..inputSize].Clear();
        for (int o = 0; o < dy.Length; o++) dx[argMax[o]] += dy[o];
    }

    /// <summary>y = mean over the in-image positions of each window.</summary>
    public static void AverageForward(ReadOnlySpan<float> x, Span<float> y, int channels, in Window2D window)
    {
        var (rows, cols) = (window.Rows, window.Columns);
        int inArea = window.InputArea, outArea = window.OutputArea;
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < rows.Output; oy++)
                for (int ox = 0; ox < cols.Output; ox++)
                {
                    Span(rows, oy, out int y0, out int y1);
                    Span(cols, ox, out int x0, out int x1);
                    float sum = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) sum += x[c * inArea + iy * cols.Input + ix];
                    y[c * outArea + oy * cols.Output + ox] = sum / ((y1 - y0) * (x1 - x0));
                }
    }

    /// <summary>dx = each dy spread evenly over the in-image positions of its window.</summary>
    public static void AverageBackward(ReadOnlySpan<float> dy, Span<float> dx, int channels, in Window2D window)
    {
        var (rows, cols) = (window.Rows, window.Columns);
        int inArea = window.InputArea, outArea = window.OutputArea;
        dx[..(channels * inArea)].Clear();
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < rows.Output; oy++)
                for (int ox = 0; ox < cols.Output; ox++)
                {
                    Span(rows, oy, out int y0, out int y1);
                    Span(cols, ox, out int x0, out int x1);
                    float share = dy[c * outArea + oy * cols.Output + ox] / ((y1 - y0) * (x1 - x0));
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dx[c * inArea + iy * cols.Input + ix] += share;
                }
    }

    // The input positions [start, end) of window o along one axis, clipped to the image.
    private static void Span(in WindowAxis axis, int o, out int start, out int end)
    {
        int first = o * axis.Stride - axis.PadBefore;
        start = Math.Max(first, 0);
        end = Math.Min(first + axis.Window, axis.Input);
    }
}
