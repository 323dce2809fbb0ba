using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels.Reference;

/// <summary>
/// Conv2D for one image, written as the course's formulas with direct loops, for any stride and padding.
/// Shapes as in <see cref="Conv2DKernels"/>: x (C, H, W), weights (K, C, R, S), y (K, OH, OW).
/// With iy = oy·sy + r − padTop and ix = ox·sx + s − padLeft (zero outside the image):
///   y[k, oy, ox]  = b[k] + Σ_c Σ_r Σ_s x[c, iy, ix] · w[k, c, r, s]
///   dw[k, c, r, s] = Σ_oy Σ_ox dy[k, oy, ox] · x[c, iy, ix]
///   db[k]          = Σ_oy Σ_ox dy[k, oy, ox]
///   dx[c, iy, ix]  = Σ_k Σ_r Σ_s dy[k, oy, ox] · w[k, c, r, s]
/// </summary>
internal static class Conv2DReference
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> y, in ConvShape shape)
    {
        var (rows, cols) = (shape.Window.Rows, shape.Window.Columns);
        for (int k = 0; k < shape.Filters; k++)
            for (int oy = 0; oy < rows.Output; oy++)
                for (int ox = 0; ox < cols.Output; ox++)
                {
                    float sum = bias.IsEmpty ? 0 : bias[k];
                    for (int c = 0; c < shape.InputChannels; c++)
                        for (int r = 0; r < rows.Window; r++)
                            for (int s = 0; s < cols.Window; s++)
                                if (TryInput(shape, oy, ox, r, s, out int iy, out int ix))
                                    sum += x[(c * rows.Input + iy) * cols.Input + ix] * weights[((k * shape.InputChannels + c) * rows.Window + r) * cols.Window + s];
                    y[(k * rows.Output + oy) * cols.Output + ox] = sum;
                }
    }

    public static void BackwardWeights(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dWeights, Span<float> dBias, in ConvShape shape)
    {
        var (rows, cols) = (shape.Window.Rows, shape.Window.Columns);
        for (int k = 0; k < shape.Filters; k++)
        {
            for (int c = 0; c < shape.InputChannels; c++)
                for (int r = 0; r < rows.Window; r++)
                    for (int s = 0; s < cols.Window; s++)
                    {
                        float sum = 0;
                        for (int oy = 0; oy < rows.Output; oy++)
                            for (int ox = 0; ox < cols.Output; ox++)
                                if (TryInput(shape, oy, ox, r, s, out int iy, out int ix))
                                    sum += dy[(k * rows.Output + oy) * cols.Output + ox] * x[(c * rows.Input + iy) * cols.Input + ix];
                        dWeights[((k * shape.InputChannels + c) * rows.Window + r) * cols.Window + s] = sum;
                    }
            if (!dBias.IsEmpty)
            {
                float sum = 0;
                for (int o = 0; o < rows.Output * cols.Output; o++) sum += dy[k * rows.Output * cols.Output + o];
                dBias[k] = sum;
            }
        }
    }

    public static void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weights, Span<float> dx, in ConvShape shape)
    {
        var (rows, cols) = (shape.Window.Rows, shape.Window.Columns);
        dx[..shape.InputSize].Clear();
        for (int k = 0; k < shape.Filters; k++)
            for (int oy = 0; oy < rows.Output; oy++)
                for (int ox = 0; ox < cols.Output; ox++)
                {
                    float g = dy[(k * rows.Output + oy) * cols.Output + ox];
                    for (int c = 0; c < shape.InputChannels; c++)
                        for (int r = 0; r < rows.Window; r++)
                            for (int s = 0; s < cols.Window; s++)
                                if (TryInput(shape, oy, ox, r, s, out int iy, out int ix))
                                    dx[(c * rows.Input + iy) * cols.Input + ix] += g * weights[((k * shape.InputChannels + c) * rows.Window + r) * cols.Window + s];
                }
    }

    private static bool TryInput(in ConvShape shape, int oy, int ox, int r, int s, out int iy, out int ix)
    {
        iy = oy * shape.Window.Rows.Stride + r - shape.Window.Rows.PadBefore;
        ix = ox * shape.Window.Columns.Stride + s - shape.Window.Columns.PadBefore;
        return (uint)iy < (uint)shape.Window.Rows.Input && (uint)ix < (uint)shape.Window.Columns.Input;
    }
}
