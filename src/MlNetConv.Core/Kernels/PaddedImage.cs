using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// A convolution's column matrix (<see cref="Im2Col.Unfold(ReadOnlySpan{float}, Span{float}, in ConvShape, SimdWidth)"/>'s entries) read by a product as it goes
/// (<see cref="Gemm.MultiplyNN{TSource}"/>), a packed slice of one panel at a time, instead of written out whole: for a
/// 5×5 window over 32 channels of 14×14 the whole matrix is 627 KB per image, written to L2 and read back, where a
/// packed slice is 16 KB that stays in L1. The image is copied once between zero margins (<see cref="Pad"/>), so every
/// window reads inside it. A register of a slice's row (c, r, s) holds output positions along one or more lines: each
/// stretch along a line is one load at column stride 1, the even lanes of two loads at stride 2, the stretches blended.
/// Same entries, so the product has the bits it has from the columns.
/// </summary>
internal readonly ref struct PaddedImage : IMatrixSource
{
    // Floats before the first plane and after the last: a register's lanes outside its stretch still load, at most
    // two of the widest registers away.
    private const int Slack = 2 * 16;

    private readonly ReadOnlySpan<float> padded;
    private readonly int paddedWidth, planeSize, outputWidth, rowStride, columnStride, windowRows, windowColumns;

    /// <param name="padded">The image as <see cref="Pad"/> left it.</param>
    /// <param name="shape">The convolution.</param>
    public PaddedImage(ReadOnlySpan<float> padded, in ConvShape shape)
    {
        if (!Reads(shape)) throw new ArgumentException($"A padded image is read at column strides 1 and 2; this one's is {shape.Window.Columns.Stride}.", nameof(shape));
        if (padded.Length < Size(shape))
            throw new ArgumentException($"The padded image needs {Size(shape)} floats; the span has {padded.Length}.", nameof(padded));
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        this.padded = padded;
        (paddedWidth, planeSize) = (PaddedLength(cols), PaddedLength(rows) * PaddedLength(cols));
        (outputWidth, rowStride, columnStride, windowRows, windowColumns) = (cols.Output, rows.Stride, cols.Stride, rows.Window, cols.Window);
    }

    /// <summary>Whether the product can read this convolution's columns from a padded image.</summary>
    public static bool Reads(in ConvShape shape) => shape.Window.Columns.Stride <= 2;

    /// <summary>Floats a padded image takes.</summary>
    public static int Size(in ConvShape shape) =>
        2 * Slack + shape.InputChannels * PaddedLength(shape.Window.Rows) * PaddedLength(shape.Window.Columns);

    // The margins before and after an axis: its padding, and past the last window if that reaches further.
    private static int PaddedLength(in WindowAxis axis) =>
        Math.Max(axis.PadBefore + axis.Input, (axis.Output - 1) * axis.Stride + axis.Window);

    /// <summary>padded ← the planes of x, each between zero margins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pad(ReadOnlySpan<float> x, Span<float> padded, in ConvShape shape)
    {
        WindowAxis rows = shape.Window.Rows, cols = shape.Window.Columns;
        int width = PaddedLength(cols), planeSize = PaddedLength(rows) * width, area = rows.Input * cols.Input;
        padded[..Slack].Clear();
        for (int c = 0; c < shape.InputChannels; c++)
        {
            Span<float> plane = padded.Slice(Slack + c * planeSize, planeSize);
            plane[..(rows.PadBefore * width)].Clear();
            for (int iy = 0; iy < rows.Input; iy++)
            {
                Span<float> line = plane.Slice((rows.PadBefore + iy) * width, width);
                line[..cols.PadBefore].Clear();
                x.Slice(c * area + iy * cols.Input, cols.Input).CopyTo(line[cols.PadBefore..]);
                line[(cols.PadBefore + cols.Input)..].Clear();
            }
            plane[((rows.PadBefore + rows.Input) * width)..].Clear();
        }
        padded[(Slack + shape.InputChannels * planeSize)..Size(shape)].Clear();
    }

    public bool InMemory => false;

    public int RowStride => throw new InvalidOperationException("A padded image is read by packing only.");

    public ref float At(int row, int column) => throw new InvalidOperationException("A padded image is read by packing only.");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Pack<TOps, TVec>(int first, int rows, int column, int registers, ref float target)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count, panel = registers * w, most = w / outputWidth + 2;
        // Per register, its stretches along a line: where lane 0 would read if the stretch reached back to it (the pixel
        // of window offset (0, 0)), and the lanes it covers (the first stretch's are all the others).
        Span<int> starts = stackalloc int[2 * most];
        Span<float> lanes = w * 2 * most <= 1024 ? stackalloc float[w * 2 * most] : new float[w * 2 * most];
        lanes.Clear();
        Span<int> stretches = stackalloc int[2]; // a second register's stays 0 if there is none
        float set = BitConverter.Int32BitsToSingle(-1);
        for (int register = 0, q = column, oy = column / outputWidth, ox = column % outputWidth; register < registers; register++)
        {
            int count = 0;
            for (int lane = 0; lane < w; lane++, q++)
            {
                if (lane == 0 || ox == 0) starts[register * most + count++] = oy * rowStride * paddedWidth + (ox - lane) * columnStride;
                lanes[((register * most) + count - 1) * w + lane] = set;
                if (++ox == outputWidth) (ox, oy) = (0, oy + 1);
            }
            stretches[register] = count;
        }
        // Row p of the matrix is (c, r, s): its pixels lie r rows and s columns past the window's (0, 0) in plane c.
        int area = windowRows * windowColumns, r = first % area / windowColumns, s = first % windowColumns;
        int offset = Slack + first / area * planeSize + r * paddedWidth + s;
        ref float origin = ref MemoryMarshal.GetReference(padded);
        ref int firstStarts = ref MemoryMarshal.GetReference(starts), secondStarts = ref Unsafe.Add(ref firstStarts, most);
        ref float firstLanes = ref MemoryMarshal.GetReference(lanes), secondLanes = ref Unsafe.Add(ref firstLanes, most * w);
        int firstStretches = stretches[0], secondStretches = stretches[1];
        for (int p = 0; p < rows; p++)
        {
            ref float pixels = ref Unsafe.Add(ref origin, offset);
            TOps.Store(Register<TOps, TVec>(ref pixels, ref firstStarts, ref firstLanes, firstStretches), ref target);
            if (registers == 2)
                TOps.Store(Register<TOps, TVec>(ref pixels, ref secondStarts, ref secondLanes, secondStretches), ref Unsafe.Add(ref target, w));
            target = ref Unsafe.Add(ref target, panel);
            offset++;
            if (++s < windowColumns) continue;
            s = 0;
            offset += paddedWidth - windowColumns;
            if (++r < windowRows) continue;
            r = 0;
            offset += planeSize - windowRows * paddedWidth;
        }
    }

    // One register of a row: its stretches from `pixels` (the row's window offset), each blended in on its lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec Register<TOps, TVec>(ref float pixels, ref int starts, ref float lanes, int stretches)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec entries = Stretch<TOps, TVec>(ref Unsafe.Add(ref pixels, starts));
        for (int stretch = 1; stretch < stretches; stretch++)
            entries = TOps.Select(TOps.Load(ref Unsafe.Add(ref lanes, stretch * TOps.Count)),
                Stretch<TOps, TVec>(ref Unsafe.Add(ref pixels, Unsafe.Add(ref starts, stretch))), entries);
        return entries;
    }

    // The register of pixels from `pixel` on, every columnStride-th.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec Stretch<TOps, TVec>(ref float pixel)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        columnStride == 1 ? TOps.Load(ref pixel) : TOps.Even(TOps.Load(ref pixel), TOps.Load(ref Unsafe.Add(ref pixel, TOps.Count)));
}
