using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// 2-D max and average pooling for one image, channel by channel. x (C, H, W), y (C, OH, OW).
/// Padded positions never win a max and never count in an average (TensorFlow's rule for "same").
/// </summary>
internal static class Pooling2DKernels
{
    /// <summary>
    /// y = max over each window; argMax[o] is the index in x (within this image) of the first maximum (NaN wins).
    /// The textbook's 2×2 windows with stride 2 and no padding take a vector path (<see cref="MaxForwardTwoByTwo"/>);
    /// every other window the general loop of <see cref="Reference.Pooling2DReference.MaxForward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward(ReadOnlySpan<float> x, Span<float> y, Span<int> argMax, int channels, in Window2D window, SimdWidth width = 0)
    {
        var cols = window.Columns;
        bool twoByTwo = IsTwoByTwo(window) && (long)channels * window.InputArea < 1 << 24; // indices are computed in float lanes, exact below 2^24
        if (!twoByTwo)
        {
            Reference.Pooling2DReference.MaxForward(x, y, argMax, channels, window);
            return;
        }
        if (x.Length < channels * window.InputArea || y.Length < channels * window.OutputArea ||
            (!argMax.IsEmpty && argMax.Length < channels * window.OutputArea))
            throw new ArgumentException("Pooling spans are shorter than the window needs.");
        // The widest register no wider than an output row: a row's last register overlaps the one before instead of running past it.
        width = Simd.NoWiderThan(width == 0 ? Simd.Best : width, cols.Output);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref int ri = ref MemoryMarshal.GetReference(argMax);
        bool keep = !argMax.IsEmpty;
        switch (width)
        {
            case SimdWidth.Vector512: MaxForwardTwoByTwo<Float512, Vector512<float>>(ref rx, ref ry, ref ri, keep, channels, window); break;
            case SimdWidth.Vector256: MaxForwardTwoByTwo<Float256, Vector256<float>>(ref rx, ref ry, ref ri, keep, channels, window); break;
            case SimdWidth.Vector128: MaxForwardTwoByTwo<Float128, Vector128<float>>(ref rx, ref ry, ref ri, keep, channels, window); break;
            default: MaxForwardTwoByTwo<Float1, float>(ref rx, ref ry, ref ri, keep, channels, window); break;
        }
    }

    /// <summary>
    /// Whether the windows are 2×2 at stride 2 from the input's corner, none reaching past it (valid padding, or same
    /// on even sizes): the 2×2 tiles of the input from its corner, the last row or column left out on odd sizes.
    /// </summary>
    public static bool IsTwoByTwo(in Window2D window) =>
        window.Rows is { Window: 2, Stride: 2, PadBefore: 0 } && window.Columns is { Window: 2, Stride: 2, PadBefore: 0 } &&
        window.Rows.Input >= 2 * window.Rows.Output && window.Columns.Input >= 2 * window.Columns.Output;

    // 2×2 windows, stride 2: a register of outputs comes from two registers of each input row, split into even and odd
    // columns. The window is scanned (0,0), (0,1), (1,0), (1,1); a later value takes over only if it is greater or a
    // NaN, and nothing takes over from a NaN: the first maximum wins and NaN propagates, branch-free.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxForwardTwoByTwo<TOps, TVec>(ref float x, ref float y, ref int argMax, bool keepIndices, int channels, in Window2D window)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        var body = new ForwardRegister<TOps, TVec>(window.Columns.Input, keepIndices);
        ForEachRegister<TOps, TVec, ForwardRegister<TOps, TVec>>(ref body, ref x, ref y, ref argMax, channels, window);
    }

    private readonly struct ForwardRegister<TOps, TVec>(int inWidth, bool keepIndices) : IWindowRegister
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        private readonly WindowLanes<TOps, TVec> lanes = new(inWidth);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run(ref float x, ref float y, ref int argMax, int top, int output)
        {
            int w = TOps.Count;
            ref float t = ref Unsafe.Add(ref x, top);
            ref float b = ref Unsafe.Add(ref t, inWidth);
            TVec t0 = TOps.Load(ref t), t1 = TOps.Load(ref Unsafe.Add(ref t, w));
            TVec b0 = TOps.Load(ref b), b1 = TOps.Load(ref Unsafe.Add(ref b, w));
            TVec topLeft = TOps.Even(t0, t1), topRight = TOps.Odd(t0, t1), bottomLeft = TOps.Even(b0, b1), bottomRight = TOps.Odd(b0, b1);
            if (!keepIndices)
            {
                TOps.Store(WindowMax<TOps, TVec>(topLeft, topRight, bottomLeft, bottomRight), ref Unsafe.Add(ref y, output));
                return;
            }
            TVec value = topLeft, offset = TOps.Zero;
            Take<TOps, TVec>(topRight, lanes.Right, ref value, ref offset);
            Take<TOps, TVec>(bottomLeft, lanes.Below, ref value, ref offset);
            Take<TOps, TVec>(bottomRight, lanes.BelowRight, ref value, ref offset);
            TOps.Store(value, ref Unsafe.Add(ref y, output));
            TOps.StoreInt32(TOps.Add(TOps.Add(TOps.Broadcast(top), lanes.PairStarts), offset), ref Unsafe.Add(ref argMax, output));
        }
    }

    // Per lane of a register of 2×2 windows, in input indices: where its window starts from the first one's top-left
    // input (0, 2, 4, …), and the window's other three inputs from its top-left one.
    private readonly struct WindowLanes<TOps, TVec>(int inWidth)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        public readonly TVec PairStarts = TOps.Add(TOps.Indices, TOps.Indices);
        public readonly TVec Right = TOps.Broadcast(1), Below = TOps.Broadcast(inWidth), BelowRight = TOps.Broadcast(inWidth + 1);
    }

    // One register of 2×2 windows: `top` indexes the first window's top-left input in the input-sized span, `output`
    // its output in the output-sized ones.
    private interface IWindowRegister
    {
        void Run(ref float inputs, ref float outputs, ref int argMax, int top, int output);
    }

    // The 2×2 windows at stride 2 a register at a time, channel by channel and row by row of windows; a row's last
    // register overlaps the one before instead of running past the row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForEachRegister<TOps, TVec, TBody>(ref TBody body, ref float inputs, ref float outputs, ref int argMax, int channels, in Window2D window)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TBody : struct, IWindowRegister
    {
        int w = TOps.Count, inWidth = window.Columns.Input, outWidth = window.Columns.Output;
        int inArea = window.InputArea, outArea = window.OutputArea;
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < window.Rows.Output; oy++)
            {
                int rowStart = c * inArea + 2 * oy * inWidth, o = c * outArea + oy * outWidth;
                for (int ox = 0; ; ox += w)
                {
                    if (ox > outWidth - w) ox = outWidth - w;
                    body.Run(ref inputs, ref outputs, ref argMax, rowStart + 2 * ox, o + ox);
                    if (ox + w >= outWidth) break;
                }
            }
    }

    /// <summary>
    /// The maximum of a 2×2 window per lane, its values given in scan order, as the scan takes it (the first maximum
    /// wins, NaN propagates): the value <see cref="MaxForward"/> stores, for a caller that has the window in registers.
    /// </summary>
    // Without NaN, the first maximum in scan order is the first of the two rows' first maxima: +0 and −0 come out as
    // the scan leaves them, from greater-thans alone. A NaN anywhere (or ∞ − ∞ in the check) takes the scan itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TVec WindowMax<TOps, TVec>(TVec topLeft, TVec topRight, TVec bottomLeft, TVec bottomRight)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        if (!TOps.HasNaN(TOps.Add(TOps.Add(topLeft, topRight), TOps.Add(bottomLeft, bottomRight))))
            return FirstMax(FirstMax(topLeft, topRight), FirstMax(bottomLeft, bottomRight));
        TVec value = topLeft, offset = TOps.Zero;
        Take<TOps, TVec>(topRight, offset, ref value, ref offset);
        Take<TOps, TVec>(bottomLeft, offset, ref value, ref offset);
        Take<TOps, TVec>(bottomRight, offset, ref value, ref offset);
        return value;

        static TVec FirstMax(TVec first, TVec second) => TOps.Select(TOps.GreaterThan(second, first), second, first);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take<TOps, TVec>(TVec candidate, TVec candidateOffset, ref TVec value, ref TVec offset)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec take = TOps.AndNot(TOps.Or(TOps.GreaterThan(candidate, value), TOps.IsNaN(candidate)), TOps.IsNaN(value));
        value = TOps.Select(take, candidate, value);
        offset = TOps.Select(take, candidateOffset, offset);
    }

    /// <summary>
    /// dx = 0, then each dy is added to the input that won its window (argMax from <see cref="MaxForward"/>). The 2×2
    /// windows at stride 2 take a vector path (<see cref="MaxBackwardTwoByTwo"/>); every other window the scatter of
    /// <see cref="Reference.Pooling2DReference.MaxBackward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argMax, Span<float> dx, int channels, in Window2D window, SimdWidth width = 0)
    {
        int inputSize = channels * window.InputArea;
        if (!IsTwoByTwo(window) || (long)inputSize >= 1 << 24) // the indices are compared in float lanes, exact below 2^24
        {
            Reference.Pooling2DReference.MaxBackward(dy, argMax, dx, inputSize);
            return;
        }
        int outputs = channels * window.OutputArea;
        if (dy.Length < outputs || argMax.Length < outputs || dx.Length < inputSize)
            throw new ArgumentException("Pooling spans are shorter than the window needs.");
        // The last row or column of an odd size is in no window: its gradient is 0.
        if (window.Rows.Input > 2 * window.Rows.Output || window.Columns.Input > 2 * window.Columns.Output) dx[..inputSize].Clear();
        width = Simd.NoWiderThan(width == 0 ? Simd.Best : width, window.Columns.Output);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref int ri = ref MemoryMarshal.GetReference(argMax);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        switch (width)
        {
            case SimdWidth.Vector512: MaxBackwardTwoByTwo<Float512, Vector512<float>>(ref rdy, ref ri, ref rdx, channels, window); break;
            case SimdWidth.Vector256: MaxBackwardTwoByTwo<Float256, Vector256<float>>(ref rdy, ref ri, ref rdx, channels, window); break;
            case SimdWidth.Vector128: MaxBackwardTwoByTwo<Float128, Vector128<float>>(ref rdy, ref ri, ref rdx, channels, window); break;
            default: MaxBackwardTwoByTwo<Float1, float>(ref rdy, ref ri, ref rdx, channels, window); break;
        }
    }

    // 2×2 windows, stride 2: each input is in one window at most, so a register of windows writes its inputs' gradients
    // once, no clearing first: the winner's dy (as 0 + dy, the scatter's +0 for a −0) and +0 for the rest, the two rows
    // of a window's pairs interleaved back (Zip) from the registers of its four corners. A row's last register overlaps
    // the one before and writes its inputs again with the same values.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxBackwardTwoByTwo<TOps, TVec>(ref float dy, ref int argMax, ref float dx, int channels, in Window2D window)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        var body = new BackwardRegister<TOps, TVec>(window.Columns.Input);
        ForEachRegister<TOps, TVec, BackwardRegister<TOps, TVec>>(ref body, ref dx, ref dy, ref argMax, channels, window);
    }

    private readonly struct BackwardRegister<TOps, TVec>(int inWidth) : IWindowRegister
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        private readonly WindowLanes<TOps, TVec> lanes = new(inWidth);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run(ref float dx, ref float dy, ref int argMax, int top, int output)
        {
            int w = TOps.Count;
            TVec gradient = TOps.Load(ref Unsafe.Add(ref dy, output)), winner = TOps.LoadInt32(ref Unsafe.Add(ref argMax, output));
            TVec topLeft = TOps.Add(TOps.Broadcast(top), lanes.PairStarts);
            TVec a = Routed(winner, topLeft, gradient), b = Routed(winner, TOps.Add(topLeft, lanes.Right), gradient);
            TVec d = Routed(winner, TOps.Add(topLeft, lanes.Below), gradient), e = Routed(winner, TOps.Add(topLeft, lanes.BelowRight), gradient);
            ref float t = ref Unsafe.Add(ref dx, top);
            TOps.Store(TOps.ZipLow(a, b), ref t);
            TOps.Store(TOps.ZipHigh(a, b), ref Unsafe.Add(ref t, w));
            TOps.Store(TOps.ZipLow(d, e), ref Unsafe.Add(ref t, inWidth));
            TOps.Store(TOps.ZipHigh(d, e), ref Unsafe.Add(ref t, inWidth + w));
        }

        private static TVec Routed(TVec winner, TVec index, TVec gradient) => TOps.Add(TOps.Zero, TOps.Select(TOps.Equal(winner, index), gradient, TOps.Zero));
    }

    /// <summary>y = mean over the in-image positions of each window.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
