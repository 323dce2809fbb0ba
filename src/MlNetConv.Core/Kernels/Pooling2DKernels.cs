using MlNetConv.Geometry;

namespace MlNetConv.Kernels;

/// <summary>
/// 2-D max and average pooling for one image, channel by channel. x (C, H, W), y (C, OH, OW).
/// Padded positions never win a max and never count in an average (TensorFlow's rule for "same").
/// Pooling moves little arithmetic, so these plain loops are both the fast and the reference version.
/// </summary>
internal static class Pooling2DKernels
{
    /// <summary>y = max over each window; argMax[o] is the index in x (within this image) of the first maximum.</summary>
    public static void MaxForward(ReadOnlySpan<float> x, Span<float> y, Span<int> argMax, int channels, in Window2D window)
    {
        var (rows, cols) = (window.Rows, window.Columns);
        int inArea = window.InputArea, outArea = window.OutputArea;
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < rows.Output; oy++)
                for (int ox = 0; ox < cols.Output; ox++)
                {
                    float best = float.NegativeInfinity;
                    int bestIndex = -1;
                    for (int r = 0; r < rows.Window && !float.IsNaN(best); r++)
                    {
                        int iy = oy * rows.Stride + r - rows.PadBefore;
                        if ((uint)iy >= (uint)rows.Input) continue;
                        for (int s = 0; s < cols.Window; s++)
                        {
                            int ix = ox * cols.Stride + s - cols.PadBefore;
                            if ((uint)ix >= (uint)cols.Input) continue;
                            int index = c * inArea + iy * cols.Input + ix;
                            // NaN propagates (a NaN input must not vanish behind a max); ties keep the first.
                            if (x[index] > best || bestIndex < 0 || float.IsNaN(x[index]))
                            {
                                best = x[index];
                                bestIndex = index;
                                if (float.IsNaN(best)) break;
                            }
                        }
                    }
                    int o = c * outArea + oy * cols.Output + ox;
                    y[o] = best;
                    if (!argMax.IsEmpty) argMax[o] = bestIndex;
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
