using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// The column matrix of a convolution whose rows are shifted planes (stride 1, as many output columns as input
/// columns), read by a product as it goes (<see cref="Gemm.MultiplyNN{TSource}"/>) instead of written out whole:
/// for a 5×5 window over 32 channels of 14×14 the whole matrix is 627 KB per image, written to L2 and read back,
/// where a packed slice is 16 KB that stays in L1. <see cref="PaddedImage"/> reads any convolution at column strides
/// 1 and 2, but a register of it takes a load per stretch of output positions along a line (two or three for lines of
/// 14), where here it is one load and a mask: 0.95 of the time of a 5×5 layer's inference over 32 channels of 14×14,
/// against the padded image in one process. The planes come with zero margins above and below
/// (<see cref="Pad"/>), where the rows of a window that fall outside the image land; the entries whose column wraps
/// across a line end are masked to zero. The entries are Unfold's, so the product has the same bits.
/// </summary>
internal readonly ref struct ShiftedPlanes : IMatrixSource
{
    private readonly ReadOnlySpan<float> planes, inImage;
    private readonly int before, planeStride, width, outputArea, windowRows, windowColumns, padTop, padLeft;

    /// <param name="planes">The image as <see cref="Pad"/> left it.</param>
    /// <param name="shape">The convolution.</param>
    public ShiftedPlanes(ReadOnlySpan<float> planes, in ConvShape shape)
    {
        if (!Applies(shape)) throw new ArgumentException("The column matrix is made of shifted planes only at stride 1 with as many output columns as input columns.", nameof(shape));
        (before, _, planeStride) = Margins(shape);
        if (planes.Length < Size(shape))
            throw new ArgumentException($"The padded planes need {Size(shape)} floats; the span has {planes.Length}.", nameof(planes));
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int channels = shape.InputChannels * planeStride;
        this.planes = planes[..channels];
        inImage = planes.Slice(channels, cols.Window * shape.Window.OutputArea);
        (width, outputArea, windowRows, windowColumns, padTop, padLeft) = (cols.Input, shape.Window.OutputArea, rows.Window, cols.Window, rows.PadBefore, cols.PadBefore);
    }

    /// <summary>Whether the column matrix is shifted planes: stride 1 with as many output columns as input columns.</summary>
    public static bool Applies(in ConvShape shape) => Im2Col.IsShiftedPlane(shape);

    /// <summary>Floats the padded planes of an image take, with the masks after them.</summary>
    public static int Size(in ConvShape shape) =>
        shape.InputChannels * Margins(shape).PlaneStride + shape.Window.Columns.Window * shape.Window.OutputArea;

    /// <summary>
    /// padded ← the planes of x, each between zero margins, then per window column s the mask of the output positions
    /// whose input column ox + s − padLeft lies in the image: a packed register's mask is then one load, where working
    /// it out for every slice of every panel took two fifths of the packing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pad(ReadOnlySpan<float> x, Span<float> padded, in ConvShape shape)
    {
        var (before, after, planeStride) = Margins(shape);
        WindowAxis cols = shape.Window.Columns;
        int area = shape.Window.Rows.Input * cols.Input, outputArea = shape.Window.OutputArea;
        for (int c = 0; c < shape.InputChannels; c++)
        {
            Span<float> plane = padded.Slice(c * planeStride, planeStride);
            plane[..before].Clear();
            x.Slice(c * area, area).CopyTo(plane[before..]);
            plane[(before + area)..].Clear();
        }
        Span<float> masks = padded.Slice(shape.InputChannels * planeStride, cols.Window * outputArea);
        float set = BitConverter.Int32BitsToSingle(-1);
        for (int s = 0; s < cols.Window; s++)
            for (int q = 0, ox = 0; q < outputArea; q++, ox = ox + 1 == cols.Output ? 0 : ox + 1)
                masks[s * outputArea + q] = (uint)(ox + s - cols.PadBefore) < (uint)cols.Input ? set : 0f;
    }

    // Margins wide enough for every entry's pixel index (oy + r − padTop)·W + ox + s − padLeft, over all
    // output positions and window offsets.
    private static (int Before, int After, int PlaneStride) Margins(in ConvShape shape)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int area = rows.Input * cols.Input;
        int before = Math.Max(0, rows.PadBefore * cols.Input + cols.PadBefore);
        int last = (rows.Output - 1 + rows.Window - 1 - rows.PadBefore) * cols.Input + cols.Output - 1 + cols.Window - 1 - cols.PadBefore;
        int after = Math.Max(0, last - (area - 1));
        return (before, after, before + area + after);
    }

    public bool InMemory => false;

    public int RowStride => throw new InvalidOperationException("Shifted planes are read by packing only.");

    public ref float At(int row, int column) => throw new InvalidOperationException("Shifted planes are read by packing only.");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Pack<TOps, TVec>(int first, int rows, int column, int registers, ref float target)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count, panel = registers * w;
        // Row p of the matrix is (c, r, s); its entries for output positions q start at pixel q + (r − padTop)·W + s − padLeft
        // of plane c, which the margins keep inside the span (an index, not a ref walked past its end).
        int area = windowRows * windowColumns, r = first % area / windowColumns, s = first % windowColumns;
        int pixel = first / area * planeStride + before + column + (r - padTop) * width + s - padLeft;
        ref float origin = ref MemoryMarshal.GetReference(planes);
        ref float mask = ref Unsafe.Add(ref MemoryMarshal.GetReference(inImage), column);
        for (int p = 0; p < rows; p++)
        {
            ref float pixels = ref Unsafe.Add(ref origin, pixel);
            ref float lanes = ref Unsafe.Add(ref mask, s * outputArea);
            TOps.Store(TOps.Select(TOps.Load(ref lanes), TOps.Load(ref pixels), TOps.Zero), ref target);
            if (registers == 2)
                TOps.Store(TOps.Select(TOps.Load(ref Unsafe.Add(ref lanes, w)), TOps.Load(ref Unsafe.Add(ref pixels, w)), TOps.Zero), ref Unsafe.Add(ref target, w));
            target = ref Unsafe.Add(ref target, panel);
            pixel++;
            if (++s < windowColumns) continue;
            s = 0;
            pixel += width - windowColumns;
            if (++r < windowRows) continue;
            r = 0;
            pixel += planeStride - windowRows * width;
        }
    }
}
