using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels.Reference;

/// <summary>
/// Max pooling for one image as the definition reads, for any window, stride and padding: the reference the fast
/// path of <see cref="Pooling2DKernels.MaxForward"/> is tested against, and its path for uncommon windows.
/// x (C, H, W), y (C, OH, OW).
/// </summary>
internal static class Pooling2DReference
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

    /// <summary>dx = 0, then each dy is added to the input that won its window.</summary>
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argMax, Span<float> dx, int inputSize)
    {
        dx[..inputSize].Clear();
        for (int o = 0; o < dy.Length; o++) dx[argMax[o]] += dy[o];
    }
}
