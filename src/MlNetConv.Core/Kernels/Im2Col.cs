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
    public static void Unfold(ReadOnlySpan<float> x, Span<float> columns, in ConvShape shape, SimdWidth width = 0) =>
        Unfold(x, columns, shape, 0, shape.PatchSize, width);

    /// <summary>columns ← rows [firstRow, endRow) of unfold(x), the first of them at columns[0].</summary>
    public static void Unfold(ReadOnlySpan<float> x, Span<float> columns, in ConvShape shape, int firstRow, int endRow, SimdWidth width = 0)
    {
        if (firstRow < 0 || endRow > shape.PatchSize || firstRow > endRow)
            throw new ArgumentOutOfRangeException(nameof(endRow), $"Rows [{firstRow}, {endRow}) are not rows of the {shape.PatchSize} of the column matrix.");
        // Strided lines go a register at a time, the widest register no wider than a line: a 64→128 layer at stride 2
        // over 16×16 has lines of 8, and with AVX-512's 16 lanes ran entirely in the scalar loop, 1.04–1.07 times as long
        // as before there was a vector loop.
        switch (Simd.NoWiderThan(width == 0 ? Simd.Best : width, shape.Window.Columns.Output))
        {
            case SimdWidth.Vector512: Unfold<Float512, Vector512<float>>(x, columns, shape, firstRow, endRow); break;
            case SimdWidth.Vector256: Unfold<Float256, Vector256<float>>(x, columns, shape, firstRow, endRow); break;
            case SimdWidth.Vector128: Unfold<Float128, Vector128<float>>(x, columns, shape, firstRow, endRow); break;
            default: Unfold<Float1, float>(x, columns, shape, firstRow, endRow); break;
        }
    }

    /// <summary>
    /// dx ← fold(columns): the adjoint of <see cref="Unfold(ReadOnlySpan{float}, Span{float}, in ConvShape, SimdWidth)"/>, each column entry added back to the pixel it came from.
    /// The entries that stand for padding are overwritten with zeros (columns is the caller's scratch).
    /// </summary>
    public static void Fold(Span<float> columns, Span<float> dx, in ConvShape shape, SimdWidth width = 0)
    {
        switch (Simd.NoWiderThan(width == 0 ? Simd.Best : width, shape.Window.Columns.Output))
        {
            case SimdWidth.Vector512: Fold<Float512, Vector512<float>>(columns, dx, shape); break;
            case SimdWidth.Vector256: Fold<Float256, Vector256<float>>(columns, dx, shape); break;
            case SimdWidth.Vector128: Fold<Float128, Vector128<float>>(columns, dx, shape); break;
            default: Fold<Float1, float>(columns, dx, shape); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Unfold<TOps, TVec>(ReadOnlySpan<float> x, Span<float> columns, in ConvShape shape, int firstRow, int endRow)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output, inArea = rows.Input * cols.Input;
        bool shifted = IsShiftedPlane(shape);
        Span<InImage> rowRanges = InImageRanges(rows, rows.Window <= StackWindow ? stackalloc InImage[rows.Window] : new InImage[rows.Window]);
        Span<InImage> columnRanges = InImageRanges(cols, cols.Window <= StackWindow ? stackalloc InImage[cols.Window] : new InImage[cols.Window]);
        int windowArea = rows.Window * cols.Window;
        for (int c = firstRow / windowArea; c < shape.InputChannels; c++)
        {
            ReadOnlySpan<float> plane = x.Slice(c * inArea, inArea);
            for (int r = 0, row = c * windowArea; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    if (row < firstRow) continue;
                    if (row >= endRow) return;
                    Span<float> dst = columns.Slice((row - firstRow) * outArea, outArea);
                    InImage ys = rowRanges[r], xs = columnRanges[s];
                    if (ys.IsEmpty || xs.IsEmpty) dst.Clear();
                    else if (shifted) UnfoldShifted(plane, dst, rows, cols, r, s, ys, xs);
                    else if (cols.Stride == 1) UnfoldLines(plane, dst, rows, cols, r, s, ys, xs);
                    else UnfoldStridedLines<TOps, TVec>(plane, dst, rows, cols, r, s, ys, xs);
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fold<TOps, TVec>(Span<float> columns, Span<float> dx, in ConvShape shape)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int outArea = rows.Output * cols.Output, inArea = rows.Input * cols.Input;
        bool shifted = IsShiftedPlane(shape);
        Span<InImage> rowRanges = InImageRanges(rows, rows.Window <= StackWindow ? stackalloc InImage[rows.Window] : new InImage[rows.Window]);
        Span<InImage> columnRanges = InImageRanges(cols, cols.Window <= StackWindow ? stackalloc InImage[cols.Window] : new InImage[cols.Window]);
        dx[..shape.InputSize].Clear();
        int row = 0;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            Span<float> plane = dx.Slice(c * inArea, inArea);
            for (int r = 0; r < rows.Window; r++)
                for (int s = 0; s < cols.Window; s++, row++)
                {
                    Span<float> src = columns.Slice(row * outArea, outArea);
                    InImage ys = rowRanges[r], xs = columnRanges[s];
                    if (ys.IsEmpty || xs.IsEmpty) continue;
                    if (shifted) FoldShifted(src, plane, rows, cols, r, s, ys, xs);
                    else if (cols.Stride == 1) FoldLines(src, plane, rows, cols, r, s, ys, xs);
                    else FoldStridedLines<TOps, TVec>(src, plane, rows, cols, r, s, ys, xs);
                }
        }
    }

    // Window rows (columns) up to this long keep their in-image ranges on the stack.
    private const int StackWindow = 64;

    // The output positions [Start, End) along an axis whose input position o·stride + offset − padBefore lies in the
    // image, for one window offset. Each costs a division or two, so Unfold and Fold work them out once per window row
    // and column, not once per row of the column matrix: per row they took a 5×5 layer's unfold over 32 channels from
    // about 12 µs of pure copying to 40.
    private readonly record struct InImage(int Start, int End)
    {
        public bool IsEmpty => Start >= End;
    }

    private static Span<InImage> InImageRanges(in WindowAxis axis, Span<InImage> ranges)
    {
        for (int offset = 0; offset < axis.Window; offset++)
        {
            int shift = offset - axis.PadBefore;
            int start = shift >= 0 ? 0 : (-shift + axis.Stride - 1) / axis.Stride;
            int last = axis.Input - 1 - shift; // largest o·stride allowed
            int end = last < 0 ? 0 : Math.Min(axis.Output, last / axis.Stride + 1);
            ranges[offset] = new InImage(start, Math.Max(start, end));
        }
        return ranges;
    }

    // Row (r, s) of the column matrix, line by line (stride 1 along columns): each in-image stretch of a line is one copy.
    private static void UnfoldLines(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s, InImage ys, InImage xs)
    {
        int lineLength = cols.Output;
        dst[..(ys.Start * lineLength)].Clear();
        dst[(ys.End * lineLength)..].Clear();
        for (int oy = ys.Start; oy < ys.End; oy++)
        {
            Span<float> line = dst.Slice(oy * lineLength, lineLength);
            int iy = oy * rows.Stride + r - rows.PadBefore;
            line[..xs.Start].Clear();
            line[xs.End..].Clear();
            plane.Slice(iy * cols.Input + s - cols.PadBefore + xs.Start, xs.End - xs.Start).CopyTo(line[xs.Start..xs.End]);
        }
    }

    // Row (r, s) of the column matrix with a column stride above 1: a gather. Through spans, checking every index and
    // slicing and clearing each line (16 entries for a stride-2 3×3 window over 32×32) cost 1.3–2.6 ns an entry, so the
    // loops index through refs. At stride 2 (the common one) a register of entries is the even lanes of two loaded
    // registers (one permute on AVX-512), while both lie inside the plane, and a line's last few entries are a register
    // too, its lanes past them zeroed, while it ends inside the column matrix: the lanes it writes past the line are
    // the next line's, written again when that line's turn comes, or padding. Other strides, and what is left, one entry
    // at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnfoldStridedLines<TOps, TVec>(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols,
        int r, int s, InImage ys, InImage xs)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int lineLength = cols.Output, stride = cols.Stride, w = TOps.Count;
        dst[..(ys.Start * lineLength)].Clear();
        dst[(ys.End * lineLength)..].Clear();
        // Refs only ever point inside the spans (a ref outside its array could mislead the GC): `pixels` is the pixel of
        // the line's first in-image entry.
        int firstColumn = xs.Start * stride + s - cols.PadBefore, count = xs.End - xs.Start;
        ref float source = ref MemoryMarshal.GetReference(plane);
        ref float target = ref MemoryMarshal.GetReference(dst);
        for (int oy = ys.Start; oy < ys.End; oy++)
        {
            ref float line = ref Unsafe.Add(ref target, oy * lineLength);
            int first = (oy * rows.Stride + r - rows.PadBefore) * cols.Input + firstColumn, readable = plane.Length - first, i = 0;
            ref float pixels = ref Unsafe.Add(ref source, first);
            for (int ox = 0; ox < xs.Start; ox++) Unsafe.Add(ref line, ox) = 0;
            ref float entries = ref Unsafe.Add(ref line, xs.Start);
            if (stride == 2)
            {
                for (; i + w <= count && 2 * (i + w) <= readable; i += w)
                    TOps.Store(TOps.Even(TOps.Load(ref Unsafe.Add(ref pixels, 2 * i)), TOps.Load(ref Unsafe.Add(ref pixels, 2 * i + w))),
                        ref Unsafe.Add(ref entries, i));
                if (i < count && 2 * (i + w) <= readable && oy * lineLength + xs.Start + i + w <= dst.Length)
                {
                    TVec gathered = TOps.Even(TOps.Load(ref Unsafe.Add(ref pixels, 2 * i)), TOps.Load(ref Unsafe.Add(ref pixels, 2 * i + w)));
                    TOps.Store(TOps.Select(TOps.LanesFrom(count - i), TOps.Zero, gathered), ref Unsafe.Add(ref entries, i));
                    i = count;
                }
            }
            for (; i < count; i++) Unsafe.Add(ref entries, i) = Unsafe.Add(ref pixels, i * stride);
            for (int ox = xs.End; ox < lineLength; ox++) Unsafe.Add(ref line, ox) = 0;
        }
    }

    // Fold's counterpart of UnfoldLines: each in-image stretch of a line added back in one vector pass.
    private static void FoldLines(ReadOnlySpan<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s, InImage ys, InImage xs)
    {
        for (int oy = ys.Start; oy < ys.End; oy++)
        {
            int iy = oy * rows.Stride + r - rows.PadBefore;
            Span<float> segment = plane.Slice(iy * cols.Input + s - cols.PadBefore + xs.Start, xs.End - xs.Start);
            InCache.Add(segment, src.Slice(oy * cols.Output + xs.Start, xs.End - xs.Start), segment);
        }
    }

    // Fold's counterpart of UnfoldStridedLines: the in-image entries of each line added to every stride-th pixel. At
    // stride 2 a register of entries goes to the even lanes of two loaded registers of pixels, split into even and odd
    // lanes and zipped back: the odd pixels are moved, not added to, so their bits (a −0 included) stay. A line's last
    // few entries go the same way, the even lanes past them moved too.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FoldStridedLines<TOps, TVec>(ReadOnlySpan<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols,
        int r, int s, InImage ys, InImage xs)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int lineLength = cols.Output, stride = cols.Stride, w = TOps.Count, firstColumn = xs.Start * stride + s - cols.PadBefore, count = xs.End - xs.Start;
        ref float source = ref MemoryMarshal.GetReference(src);
        ref float target = ref MemoryMarshal.GetReference(plane);
        for (int oy = ys.Start; oy < ys.End; oy++)
        {
            ref float entries = ref Unsafe.Add(ref source, oy * lineLength + xs.Start);
            int first = (oy * rows.Stride + r - rows.PadBefore) * cols.Input + firstColumn, writable = plane.Length - first, i = 0;
            ref float pixels = ref Unsafe.Add(ref target, first);
            if (stride == 2)
            {
                for (; i + w <= count && 2 * (i + w) <= writable; i += w)
                    AddToEvenPixels<TOps, TVec>(ref Unsafe.Add(ref pixels, 2 * i), ref Unsafe.Add(ref entries, i), untouched: TOps.Zero);
                if (i < count && 2 * (i + w) <= writable && oy * lineLength + xs.Start + i + w <= src.Length)
                {
                    AddToEvenPixels<TOps, TVec>(ref Unsafe.Add(ref pixels, 2 * i), ref Unsafe.Add(ref entries, i), TOps.LanesFrom(count - i));
                    i = count;
                }
            }
            for (; i < count; i++) Unsafe.Add(ref pixels, i * stride) += Unsafe.Add(ref entries, i);
        }
    }

    // Two registers of pixels from `low` take a register of entries on their even lanes, but for the lanes set in
    // `untouched`.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddToEvenPixels<TOps, TVec>(ref float low, ref float entries, TVec untouched)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        ref float high = ref Unsafe.Add(ref low, TOps.Count);
        TVec lowPixels = TOps.Load(ref low), highPixels = TOps.Load(ref high);
        TVec evens = TOps.Even(lowPixels, highPixels), odds = TOps.Odd(lowPixels, highPixels);
        evens = TOps.Select(untouched, evens, TOps.Add(evens, TOps.Load(ref entries)));
        TOps.Store(TOps.ZipLow(evens, odds), ref low);
        TOps.Store(TOps.ZipHigh(evens, odds), ref high);
    }

    // Stride 1 with as many output columns as input columns ("same" padding, the textbook's case): a row of the
    // column matrix is then the whole input plane shifted by one offset, so it moves as one contiguous stretch
    // instead of line by line; only the few entries that wrapped across a line end (padding) are fixed up.
    internal static bool IsShiftedPlane(in ConvShape shape) =>
        shape.Window.Rows.Stride == 1 && shape.Window.Columns.Stride == 1 && shape.Window.Columns.Output == shape.Window.Columns.Input;

    private static void UnfoldShifted(ReadOnlySpan<float> plane, Span<float> dst, in WindowAxis rows, in WindowAxis cols, int r, int s, InImage ys, InImage xs)
    {
        var (first, end, shift) = ShiftedStretch(rows, cols, r, s, ys, xs);
        dst[..first].Clear();
        plane.Slice(first + shift, end - first).CopyTo(dst[first..end]);
        dst[end..].Clear();
        ClearPaddingColumns(dst, cols.Output, ys, xs);
    }

    private static void FoldShifted(Span<float> src, Span<float> plane, in WindowAxis rows, in WindowAxis cols, int r, int s, InImage ys, InImage xs)
    {
        var (first, end, shift) = ShiftedStretch(rows, cols, r, s, ys, xs);
        ClearPaddingColumns(src, cols.Output, ys, xs);
        Span<float> target = plane.Slice(first + shift, end - first);
        InCache.Add(target, src[first..end], target); // a whole plane, which can pass 256 KB
    }

    // The stretch [First, End) of the column-matrix row (r, s) from its first to its last in-image entry, and the
    // offset from an entry to its pixel.
    private static (int First, int End, int Shift) ShiftedStretch(in WindowAxis rows, in WindowAxis cols, int r, int s, InImage ys, InImage xs) =>
        (ys.Start * cols.Output + xs.Start, (ys.End - 1) * cols.Output + xs.End, (r - rows.PadBefore) * cols.Input + s - cols.PadBefore);

    // Zeroes, in every in-image line of the row, the entries left and right of the in-image columns.
    private static void ClearPaddingColumns(Span<float> row, int lineLength, InImage ys, InImage xs)
    {
        if (xs.Start == 0 && xs.End == lineLength) return;
        // A 3×3 kernel leaves one entry per line: plain stores, not a Clear call per line.
        for (int oy = ys.Start; oy < ys.End; oy++)
        {
            Span<float> line = row.Slice(oy * lineLength, lineLength);
            for (int ox = 0; ox < xs.Start; ox++) line[ox] = 0;
            for (int ox = xs.End; ox < lineLength; ox++) line[ox] = 0;
        }
    }
}
