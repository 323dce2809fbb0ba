using System.Numerics.Tensors;
using MlNetConv.Geometry;

namespace MlNetConv.Kernels;

/// <summary>
/// Unfolds one image into its receptive fields so a convolution becomes one matrix product, and folds
/// gradients back. x is (C, H, W); columns is (C·R·S) × (OH·OW) with
/// columns[(c·R + r)·S + s, oy·OW + ox] = x[c, oy·sy + r − padTop, ox·sx + s − padLeft], zero outside the image.
/// </summary>
internal static class Im2Col
{
    /// <summary>columns ← unfold(x).</summary>
    public static void Unfold(ReadOnlySpan<float> x, Span<float> columns, in ConvShape shape)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output;
        int row = 0;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            ReadOnlySpan<float> plane = x.Slice(c * rows.Input * cols.Input, rows.Input * cols.Input);
            for (int r = 0; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    Span<float> dst = columns.Slice(row * outArea, outArea);
                    ValidRange(cols, s, out int oxStart, out int oxEnd);
                    for (int oy = 0; oy < rows.Output; oy++)
                    {
                        Span<float> line = dst.Slice(oy * cols.Output, cols.Output);
                        int iy = oy * rows.Stride + r - rows.PadBefore;
                        if ((uint)iy >= (uint)rows.Input || oxStart >= oxEnd)
                        {
                            line.Clear();
                            continue;
                        }
                        line[..oxStart].Clear();
                        line[oxEnd..].Clear();
                        ReadOnlySpan<float> source = plane.Slice(iy * cols.Input, cols.Input);
                        int ixStart = oxStart * cols.Stride + s - cols.PadBefore;
                        if (cols.Stride == 1)
                            source.Slice(ixStart, oxEnd - oxStart).CopyTo(line[oxStart..oxEnd]);
                        else
                            for (int ox = oxStart, ix = ixStart; ox < oxEnd; ox++, ix += cols.Stride) line[ox] = source[ix];
                    }
                }
        }
    }

    /// <summary>dx ← fold(columns): the adjoint of <see cref="Unfold"/>, each column entry added back to the pixel it came from.</summary>
    public static void Fold(ReadOnlySpan<float> columns, Span<float> dx, in ConvShape shape)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output;
        dx[..shape.InputSize].Clear();
        int row = 0;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            Span<float> plane = dx.Slice(c * rows.Input * cols.Input, rows.Input * cols.Input);
            for (int r = 0; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    ReadOnlySpan<float> src = columns.Slice(row * outArea, outArea);
                    ValidRange(cols, s, out int oxStart, out int oxEnd);
                    if (oxStart >= oxEnd) continue;
                    for (int oy = 0; oy < rows.Output; oy++)
                    {
                        int iy = oy * rows.Stride + r - rows.PadBefore;
                        if ((uint)iy >= (uint)rows.Input) continue;
                        ReadOnlySpan<float> line = src.Slice(oy * cols.Output + oxStart, oxEnd - oxStart);
                        Span<float> target = plane.Slice(iy * cols.Input, cols.Input);
                        int ixStart = oxStart * cols.Stride + s - cols.PadBefore;
                        if (cols.Stride == 1)
                        {
                            Span<float> segment = target.Slice(ixStart, line.Length);
                            TensorPrimitives.Add(segment, line, segment);
                        }
                        else
                            for (int i = 0, ix = ixStart; i < line.Length; i++, ix += cols.Stride) target[ix] += line[i];
                    }
                }
        }
    }

    // The output columns ox whose input column ox·stride + s − padBefore lies inside the image.
    private static void ValidRange(in WindowAxis axis, int s, out int start, out int end)
    {
        int offset = s - axis.PadBefore;
        start = offset >= 0 ? 0 : (-offset + axis.Stride - 1) / axis.Stride;
        int last = axis.Input - 1 - offset; // largest ox·stride allowed
        end = last < 0 ? 0 : Math.Min(axis.Output, last / axis.Stride + 1);
        if (end < start) end = start;
    }
}
