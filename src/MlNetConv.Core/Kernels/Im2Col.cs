using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Unfolds one image into its receptive fields so a convolution becomes one matrix product, and folds
/// gradients back. x is (C, H, W); columns is (C·R·S) × (OH·OW) with
/// columns[(c·R + r)·S + s, oy·OW + ox] = x[c, oy·sy + r − padTop, ox·sx + s − padLeft], zero outside the image.
/// </summary>
internal static class Im2Col
{
    /// <summary>columns ← unfold(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unfold(ReadOnlySpan<float> x, Span<float> columns, in ConvShape shape, SimdWidth width = 0)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output, inArea = rows.Input * cols.Input;
        bool shifted = IsShiftedPlane(shape);
        int row = 0;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            ReadOnlySpan<float> plane = x.Slice(c * inArea, inArea);
            for (int r = 0; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    Span<float> dst = columns.Slice(row * outArea, outArea);
                    if (shifted)
                    {
                        UnfoldShifted(plane, dst, rows, cols, r, s);
                        continue;
                    }
                    if (cols.Stride == 1) UnfoldLines(plane, dst, rows, cols, r, s);
                    else UnfoldStridedLines(plane, dst, rows, cols, r, s, width == 0 ? Simd.Best : width);
                }
        }
    }

    /// <summary>
    /// dx ← fold(columns): the adjoint of <see cref="Unfold"/>, each column entry added back to the pixel it came from.
    /// The entries that stand for padding are overwritten with zeros (columns is the caller's scratch).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fold(Span<float> columns, Span<float> dx, in ConvShape shape, SimdWidth width = 0)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output, inArea = rows.Input * cols.Input;
        bool shifted = IsShiftedPlane(shape);
        dx[..shape.InputSize].Clear();
        int row = 0;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            Span<float> plane = dx.Slice(c * inArea, inArea);
            for (int r = 0; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    Span<float> src = columns.Slice(row * outArea, outArea);
                    if (shifted)
                    {
                        FoldShifted(src, plane, rows, cols, r, s);
                        continue;
                    }
                    if (cols.Stride == 1) FoldLines(src, plane, rows, cols, r, s);
                    else FoldStridedLines(src, plane, rows, cols, r, s, width == 0 ? Simd.Best : width);
                }
        }
    }

    // Row (r, s) of the column matrix, line by line (stride 1 along columns): each in-image stretch of a line is one copy.
    private static void UnfoldLines(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s)
    {
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
            plane.Slice(iy * cols.Input + s - cols.PadBefore + oxStart, oxEnd - oxStart).CopyTo(line[oxStart..oxEnd]);
        }
    }

    // Row (r, s) of the column matrix with a column stride above 1: a gather. Through spans, checking every index and
    // slicing and clearing each line (16 entries for a stride-2 3×3 window over 32×32) cost 1.3–2.6 ns an entry; the
    // bounds come from ValidRange once per row, so the loops index through refs. At stride 2 (the common one) a
    // register of entries is the even lanes of two loaded registers (one permute on AVX-512), while both lie inside the
    // plane; the rest, and other strides, one entry at a time. The register is the widest no wider than a line: a
    // 64→128 layer at stride 2 over 16×16 has lines of 8, and with AVX-512's 16 lanes ran entirely in the scalar loop,
    // 1.04–1.07 times as long as before there was a vector loop.
    private static void UnfoldStridedLines(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s,
        SimdWidth width)
    {
        switch (Simd.NoWiderThan(width, cols.Output))
        {
            case SimdWidth.Vector512: UnfoldStridedLines<Float512, Vector512<float>>(plane, dst, rows, cols, r, s); break;
            case SimdWidth.Vector256: UnfoldStridedLines<Float256, Vector256<float>>(plane, dst, rows, cols, r, s); break;
            case SimdWidth.Vector128: UnfoldStridedLines<Float128, Vector128<float>>(plane, dst, rows, cols, r, s); break;
            default: UnfoldStridedLines<Float1, float>(plane, dst, rows, cols, r, s); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UnfoldStridedLines<TOps, TVec>(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        ValidRange(rows, r, out int oyStart, out int oyEnd);
        ValidRange(cols, s, out int oxStart, out int oxEnd);
        int lineLength = cols.Output, stride = cols.Stride, w = TOps.Count;
        // With padding wider than the window's reach, ValidRange's start can lie past the output: no entry is in the image.
        if (oyStart >= oyEnd || oxStart >= oxEnd)
        {
            dst.Clear();
            return;
        }
        dst[..(oyStart * lineLength)].Clear();
        dst[(oyEnd * lineLength)..].Clear();
        // Refs only ever point inside the spans (a ref outside its array could mislead the GC): `pixels` is the pixel of
        // the line's first in-image entry.
        int firstColumn = oxStart * stride + s - cols.PadBefore, count = oxEnd - oxStart;
        ref float source = ref MemoryMarshal.GetReference(plane);
        ref float target = ref MemoryMarshal.GetReference(dst);
        for (int oy = oyStart; oy < oyEnd; oy++)
        {
            ref float line = ref Unsafe.Add(ref target, oy * lineLength);
            int first = (oy * rows.Stride + r - rows.PadBefore) * cols.Input + firstColumn, readable = plane.Length - first, i = 0;
            ref float pixels = ref Unsafe.Add(ref source, first);
            for (int ox = 0; ox < oxStart; ox++) Unsafe.Add(ref line, ox) = 0;
            ref float entries = ref Unsafe.Add(ref line, oxStart);
            if (stride == 2)
                for (; i + w <= count && 2 * (i + w) <= readable; i += w)
                    TOps.Store(TOps.Even(TOps.Load(ref Unsafe.Add(ref pixels, 2 * i)), TOps.Load(ref Unsafe.Add(ref pixels, 2 * i + w))),
                        ref Unsafe.Add(ref entries, i));
            for (; i < count; i++) Unsafe.Add(ref entries, i) = Unsafe.Add(ref pixels, i * stride);
            for (int ox = oxEnd; ox < lineLength; ox++) Unsafe.Add(ref line, ox) = 0;
        }
    }

    // Fold's counterpart of UnfoldLines: each in-image stretch of a line added back in one vector pass.
    private static void FoldLines(ReadOnlySpan<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s)
    {
        ValidRange(cols, s, out int oxStart, out int oxEnd);
        if (oxStart >= oxEnd) return;
        for (int oy = 0; oy < rows.Output; oy++)
        {
            int iy = oy * rows.Stride + r - rows.PadBefore;
            if ((uint)iy >= (uint)rows.Input) continue;
            Span<float> segment = plane.Slice(iy * cols.Input + s - cols.PadBefore + oxStart, oxEnd - oxStart);
            TensorPrimitives.Add(segment, src.Slice(oy * cols.Output + oxStart, oxEnd - oxStart), segment);
        }
    }

    // Fold's counterpart of UnfoldStridedLines: the in-image entries of each line added to every stride-th pixel. At
    // stride 2 a register of entries goes to the even lanes of two loaded registers of pixels, split into even and odd
    // lanes and zipped back: the odd pixels are moved, not added to, so their bits (a −0 included) stay. The register
    // is chosen as for the unfold.
    private static void FoldStridedLines(ReadOnlySpan<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s,
        SimdWidth width)
    {
        switch (Simd.NoWiderThan(width, cols.Output))
        {
            case SimdWidth.Vector512: FoldStridedLines<Float512, Vector512<float>>(src, plane, rows, cols, r, s); break;
            case SimdWidth.Vector256: FoldStridedLines<Float256, Vector256<float>>(src, plane, rows, cols, r, s); break;
            case SimdWidth.Vector128: FoldStridedLines<Float128, Vector128<float>>(src, plane, rows, cols, r, s); break;
            default: FoldStridedLines<Float1, float>(src, plane, rows, cols, r, s); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FoldStridedLines<TOps, TVec>(ReadOnlySpan<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        ValidRange(rows, r, out int oyStart, out int oyEnd);
        ValidRange(cols, s, out int oxStart, out int oxEnd);
        if (oxStart >= oxEnd || oyStart >= oyEnd) return;
        int lineLength = cols.Output, stride = cols.Stride, w = TOps.Count, firstColumn = oxStart * stride + s - cols.PadBefore, count = oxEnd - oxStart;
        ref float source = ref MemoryMarshal.GetReference(src);
        ref float target = ref MemoryMarshal.GetReference(plane);
        for (int oy = oyStart; oy < oyEnd; oy++)
        {
            ref float entries = ref Unsafe.Add(ref source, oy * lineLength + oxStart);
            int first = (oy * rows.Stride + r - rows.PadBefore) * cols.Input + firstColumn, writable = plane.Length - first, i = 0;
            ref float pixels = ref Unsafe.Add(ref target, first);
            if (stride == 2)
                for (; i + w <= count && 2 * (i + w) <= writable; i += w)
                {
                    ref float low = ref Unsafe.Add(ref pixels, 2 * i), high = ref Unsafe.Add(ref low, w);
                    TVec lowPixels = TOps.Load(ref low), highPixels = TOps.Load(ref high);
                    TVec evens = TOps.Add(TOps.Even(lowPixels, highPixels), TOps.Load(ref Unsafe.Add(ref entries, i)));
                    TVec odds = TOps.Odd(lowPixels, highPixels);
                    TOps.Store(TOps.ZipLow(evens, odds), ref low);
                    TOps.Store(TOps.ZipHigh(evens, odds), ref high);
                }
            for (; i < count; i++) Unsafe.Add(ref pixels, i * stride) += Unsafe.Add(ref entries, i);
        }
    }

    // Stride 1 with as many output columns as input columns ("same" padding, the textbook's case): a row of the
    // column matrix is then the whole input plane shifted by one offset, so it moves as one contiguous stretch
    // instead of line by line; only the few entries that wrapped across a line end (padding) are fixed up.
    private static bool IsShiftedPlane(in ConvShape shape) =>
        shape.Window.Rows.Stride == 1 && shape.Window.Columns.Stride == 1 && shape.Window.Columns.Output == shape.Window.Columns.Input;

    private static void UnfoldShifted(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s)
    {
        if (!ShiftedStretch(rows, cols, r, s, out int first, out int end, out int shift))
        {
            dst.Clear();
            return;
        }
        dst[..first].Clear();
        plane.Slice(first + shift, end - first).CopyTo(dst[first..end]);
        dst[end..].Clear();
        ClearPaddingColumns(dst, rows, cols, r, s);
    }

    private static void FoldShifted(Span<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s)
    {
        if (!ShiftedStretch(rows, cols, r, s, out int first, out int end, out int shift)) return;
        ClearPaddingColumns(src, rows, cols, r, s);
        Span<float> target = plane.Slice(first + shift, end - first);
        TensorPrimitives.Add(target, src[first..end], target);
    }

    // The stretch [first, end) of the column-matrix row (r, s) from its first to its last in-image entry, and the
    // offset from an entry to its pixel; false if no entry of the row lies in the image.
    private static bool ShiftedStretch(in WindowAxis rows, in WindowAxis cols, int r, int s, out int first, out int end, out int shift)
    {
        ValidRange(rows, r, out int oyStart, out int oyEnd);
        ValidRange(cols, s, out int oxStart, out int oxEnd);
        int width = cols.Output;
        first = oyStart * width + oxStart;
        end = (oyEnd - 1) * width + oxEnd;
        shift = (r - rows.PadBefore) * cols.Input + s - cols.PadBefore;
        return oyStart < oyEnd && oxStart < oxEnd;
    }

    // Zeroes, in every in-image line of the row, the entries left and right of the in-image columns.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ClearPaddingColumns(Span<float> row, in WindowAxis rows, in WindowAxis cols, int r, int s)
    {
        ValidRange(rows, r, out int oyStart, out int oyEnd);
        ValidRange(cols, s, out int oxStart, out int oxEnd);
        int width = cols.Output;
        if (oxStart == 0 && oxEnd == width) return;
        // A 3×3 kernel leaves one entry per line: plain stores, not a Clear call per line.
        for (int oy = oyStart; oy < oyEnd; oy++)
        {
            Span<float> line = row.Slice(oy * width, width);
            for (int ox = 0; ox < oxStart; ox++) line[ox] = 0;
            for (int ox = oxEnd; ox < width; ox++) line[ox] = 0;
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
