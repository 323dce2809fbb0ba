using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Single-threaded matrix products on row-major spans, the arithmetic core of Conv2D (through im2col) and Dense.
/// M×N is the output C, K the reduction length; lda/ldb/ldc are row strides.
/// <list type="bullet">
/// <item>NN: C = A·B, A is M×K, B is K×N.</item>
/// <item>TN: C = Aᵀ·B, A is stored K×M.</item>
/// <item>NT: C = A·Bᵀ, B is stored N×K.</item>
/// </list>
/// NN and TN copy long, far-apart panels of B into a contiguous buffer first (see PacksPanels); NN can also take
/// its B from an <see cref="IMatrixSource"/> that makes each packed slice as it goes (an image unfolded as it is read).
/// With <c>accumulate</c> the product is added to C, otherwise it replaces C. Every element of C is
/// reduced over K in ascending order whatever the blocking, so callers that split C among threads get
/// the same bits for any thread count. <see cref="Reference.GemmReference"/> is the plain version the tests hold these to.
/// </summary>
internal static class Gemm
{
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, SimdWidth width = 0) =>
        MultiplyNN(m, n, k, a, lda, b, ldb, c, ldc, accumulate, default, width);

    /// <summary>
    /// C = A·B, then each row of C finished as <paramref name="finish"/> says, panel by panel while it is in L1.
    /// <paramref name="aTransposed"/> (optional, K×M with row stride <paramref name="ldaTransposed"/>) is A again with
    /// its rows side by side, which the last columns, fewer than a register, take in their lanes (the same bits).
    /// </summary>
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, scoped in RowFinish finish, SimdWidth width = 0,
        ReadOnlySpan<float> aTransposed = default, int ldaTransposed = 0)
    {
        CheckOperand(a, m, k, lda, nameof(a));
        CheckOperand(b, k, n, ldb, nameof(b));
        CheckOperand(c, m, n, ldc, nameof(c));
        finish.Check(m, accumulate);
        var rows = new MatrixRows(ref MemoryMarshal.GetReference(b), ldb);
        Broadcast(m, n, k, ref MemoryMarshal.GetReference(a), lda, 1, ref rows, ref MemoryMarshal.GetReference(c), ldc, accumulate, finish, width,
            ref SideBySide(aTransposed, k, m, ldaTransposed), ldaTransposed);
    }

    /// <summary>
    /// C = A·B as <see cref="MultiplyNN(int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool, in RowFinish, SimdWidth, ReadOnlySpan{float}, int)"/>, B (K×N) made slice by slice as the product reads it (a
    /// <see cref="PaddedImage"/>'s columns). Every panel is packed, so every block of rows must be whole: m a multiple
    /// of 4, and n at least a register (<see cref="PacksEverything"/>).
    /// </summary>
    public static void MultiplyNN<TSource>(int m, int n, int k, ReadOnlySpan<float> a, int lda, scoped ref TSource b,
        Span<float> c, int ldc, bool accumulate, scoped in RowFinish finish, SimdWidth width = 0,
        ReadOnlySpan<float> aTransposed = default, int ldaTransposed = 0)
        where TSource : IMatrixSource, allows ref struct
    {
        CheckOperand(a, m, k, lda, nameof(a));
        CheckOperand(c, m, n, ldc, nameof(c));
        finish.Check(m, accumulate);
        if (!PacksEverything(m, n, width))
            throw new ArgumentException($"A {m}×{n} product from a packed-only source needs whole blocks of rows (m a multiple of 4) and a register of columns.", nameof(b));
        Broadcast(m, n, k, ref MemoryMarshal.GetReference(a), lda, 1, ref b, ref MemoryMarshal.GetReference(c), ldc, accumulate, finish, width,
            ref SideBySide(aTransposed, k, m, ldaTransposed), ldaTransposed);
    }

    // A's rows side by side (K×M, rows `stride` apart) if given, checked, or a null ref.
    private static ref float SideBySide(ReadOnlySpan<float> aTransposed, int k, int m, int stride)
    {
        if (aTransposed.IsEmpty) return ref Unsafe.NullRef<float>();
        CheckOperand(aTransposed, k, m, stride, nameof(aTransposed));
        return ref MemoryMarshal.GetReference(aTransposed);
    }

    /// <summary>
    /// Whether an m×n NN product takes its last columns in the lanes of A's rows when given A transposed (the
    /// <c>aTransposed</c> of <see cref="MultiplyNN(int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool, in RowFinish, SimdWidth, ReadOnlySpan{float}, int)"/>):
    /// n not a whole number of registers, and at least four registers of rows.
    /// </summary>
    public static bool TakesColumnsInLanes(int m, int n, SimdWidth width = 0)
    {
        int lanes = (int)(width == 0 ? Simd.Best : width);
        return lanes > 1 && n > lanes && n % lanes != 0 && m >= 4 * lanes;
    }

    /// <summary>Whether an m×n product can take its B from a source that is only ever packed.</summary>
    public static bool PacksEverything(int m, int n, SimdWidth width = 0) =>
        m % 4 == 0 && n >= (int)(width == 0 ? Simd.Best : width); // a width's value is its lane count

    public static void MultiplyTN(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, SimdWidth width = 0)
    {
        CheckOperand(a, k, m, lda, nameof(a));
        CheckOperand(b, k, n, ldb, nameof(b));
        CheckOperand(c, m, n, ldc, nameof(c));
        var rows = new MatrixRows(ref MemoryMarshal.GetReference(b), ldb);
        // A is stored K×M: its rows lie side by side already.
        Broadcast(m, n, k, ref MemoryMarshal.GetReference(a), 1, lda, ref rows, ref MemoryMarshal.GetReference(c), ldc, accumulate, default, width,
            ref MemoryMarshal.GetReference(a), lda);
    }

    public static void MultiplyNT(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, SimdWidth width = 0)
    {
        CheckOperand(a, m, k, lda, nameof(a));
        CheckOperand(b, n, k, ldb, nameof(b));
        CheckOperand(c, m, n, ldc, nameof(c));
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: Dot<Float512, Vector512<float>>(m, n, k, ref ra, lda, ref rb, ldb, ref rc, ldc, accumulate); break;
            case SimdWidth.Vector256: Dot<Float256, Vector256<float>>(m, n, k, ref ra, lda, ref rb, ldb, ref rc, ldc, accumulate); break;
            case SimdWidth.Vector128: Dot<Float128, Vector128<float>>(m, n, k, ref ra, lda, ref rb, ldb, ref rc, ldc, accumulate); break;
            default: Dot<Float1, float>(m, n, k, ref ra, lda, ref rb, ldb, ref rc, ldc, accumulate); break;
        }
    }

    private static void CheckOperand(ReadOnlySpan<float> span, int rows, int columns, int stride, string name)
    {
        if (rows < 0 || columns < 0 || stride < columns)
            throw new ArgumentException($"Matrix {name} is {rows}×{columns} with row stride {stride}: the stride must be at least the column count.", name);
        long needed = rows == 0 || columns == 0 ? 0 : (long)(rows - 1) * stride + columns;
        if (span.Length < needed)
            throw new ArgumentException($"Matrix {name} ({rows}×{columns}, stride {stride}) needs {needed} floats; the span has {span.Length}.", name);
    }

    private static void Broadcast<TSource>(int m, int n, int k, ref float a, int aRow, int aColumn, scoped ref TSource b,
        ref float c, int ldc, bool accumulate, scoped in RowFinish finish, SimdWidth width, ref float sideBySide, int sideBySideStride)
        where TSource : IMatrixSource, allows ref struct
    {
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: Broadcast<Float512, Vector512<float>, TSource>(m, n, k, ref a, aRow, aColumn, ref b, ref c, ldc, accumulate, finish, ref sideBySide, sideBySideStride); break;
            case SimdWidth.Vector256: Broadcast<Float256, Vector256<float>, TSource>(m, n, k, ref a, aRow, aColumn, ref b, ref c, ldc, accumulate, finish, ref sideBySide, sideBySideStride); break;
            case SimdWidth.Vector128: Broadcast<Float128, Vector128<float>, TSource>(m, n, k, ref a, aRow, aColumn, ref b, ref c, ldc, accumulate, finish, ref sideBySide, sideBySideStride); break;
            default: Broadcast<Float1, float, TSource>(m, n, k, ref a, aRow, aColumn, ref b, ref c, ldc, accumulate, finish, ref sideBySide, sideBySideStride); break;
        }
    }

    // ---- NN / TN: broadcast one element of A, multiply a row segment of B, accumulate a row segment of C.
    // C is walked in column panels of two registers (one, then a masked last register that overlaps the
    // previous panel), and within a panel in blocks of rows, so a K×panel slice of B stays in L1 while every
    // row block of A streams past it. A block keeps rows × registers accumulators: 8×2 where there are 32 vector
    // registers (AVX-512), enough independent FMA chains to cover the FMA latency on both pipes; 4×2 where there
    // are 16 (AVX2, SSE), which would spill 8×2.

    private interface IRowBlock
    {
        static abstract int Rows { get; }
    }

    private readonly struct FourRows : IRowBlock
    {
        public static int Rows => 4;
    }

    private readonly struct EightRows : IRowBlock
    {
        public static int Rows => 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Broadcast<TOps, TVec, TSource>(int m, int n, int k, ref float a, int aRow, int aColumn, scoped ref TSource b,
        ref float c, int ldc, bool accumulate, scoped in RowFinish finish, ref float sideBySide, int sideBySideStride)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TSource : IMatrixSource, allows ref struct
    {
        int w = TOps.Count;
        if (n < w)
        {
            ScalarColumns(m, n, k, ref a, aRow, aColumn, ref b.At(0, 0), b.RowStride, 1, ref c, ldc, accumulate);
            if (!finish.IsNone) finish.Apply<Float1, float>(ref c, ldc, 0, m, 0, n);
            return;
        }
        int blocked = m - m % 4; // rows in blocks of 4 (and 8), by panels of columns
        bool packs = !b.InMemory || PacksPanels<TOps, TVec>(blocked, k, b.RowStride);
        float[]? scratch = packs ? ArrayPool<float>.Shared.Rent((PackedDepth<TOps, TVec>() + blocked) * 2 * w) : null;
        try
        {
            // Each panel's rows are finished as soon as it is done, while it is in L1.
            int j = 0;
            for (; j + 2 * w <= n; j += 2 * w)
            {
                Panel<TOps, TVec, TSource>(blocked, k, ref a, aRow, aColumn, ref b, j, scratch, ref Unsafe.Add(ref c, j), ldc, accumulate, 2, TOps.LanesFrom(0));
                if (!finish.IsNone) finish.Apply<TOps, TVec>(ref c, ldc, 0, blocked, j, j + 2 * w);
            }
            for (; j + w <= n; j += w)
            {
                Panel<TOps, TVec, TSource>(blocked, k, ref a, aRow, aColumn, ref b, j, scratch, ref Unsafe.Add(ref c, j), ldc, accumulate, 1, TOps.LanesFrom(0));
                if (!finish.IsNone) finish.Apply<TOps, TVec>(ref c, ldc, 0, blocked, j, j + w);
            }
            if (j < n)
            {
                // Where A's rows lie side by side (`sideBySide`), its blocks of four registers of rows take these columns in
                // their lanes.
                int inLanes = Unsafe.IsNullRef(ref sideBySide) ? 0 : blocked - blocked % (4 * w);
                if (inLanes > 0) RaggedColumns<TOps, TVec, TSource>(inLanes, k, ref sideBySide, sideBySideStride, ref b, j, n, scratch, ref c, ldc, accumulate);
                if (inLanes < blocked)
                {
                    // The last register ends at column n; its first lanes belong to the panel before and are left alone.
                    int start = n - w;
                    Panel<TOps, TVec, TSource>(blocked - inLanes, k, ref Unsafe.Add(ref a, (nint)inLanes * aRow), aRow, aColumn, ref b, start, scratch,
                        ref Unsafe.Add(ref c, (nint)inLanes * ldc + start), ldc, accumulate, 1, TOps.LanesFrom(j - start));
                }
                if (!finish.IsNone) finish.Apply<TOps, TVec>(ref c, ldc, 0, blocked, j, n);
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
        }
        for (int i = blocked; i < m; i++)
            for (int column = 0; column < n; column += 4 * w)
                SingleRow<TOps, TVec>(k, ref Unsafe.Add(ref a, (nint)i * aRow), aColumn, ref b.At(0, 0), b.RowStride, ref Unsafe.Add(ref c, (nint)i * ldc), accumulate, column, n);
        if (!finish.IsNone && blocked < m) finish.Apply<TOps, TVec>(ref c, ldc, blocked, m, 0, n);
    }

    // The last n − j columns, fewer than a register, of rows [0, m), m a multiple of four registers, from A with its
    // rows side by side (A(i, p) = a[i + p·aColumn]: A itself in TN, a transposed copy in NN): the rows go in the lanes
    // and each column of B is broadcast, so the work is the columns' own. A masked register of columns would cost half a
    // full panel however few of its lanes are kept (4 columns of 196: 9 % of a 64×196×800 product). B is read in place,
    // or packed slice by slice as the panels are (its last register of columns, whose last n − j are these), the sums
    // carried between slices.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RaggedColumns<TOps, TVec, TSource>(int m, int k, ref float a, int aColumn, scoped ref TSource b, int j, int n,
        float[]? scratch, ref float c, int ldc, bool accumulate)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TSource : IMatrixSource, allows ref struct
    {
        int w = TOps.Count, columns = n - j, rows = 4 * w;
        if (scratch is null)
        {
            ref float bj = ref b.At(0, j);
            for (int i = 0; i < m; i += rows)
                for (int column = 0; column < columns; column += 2)
                    RaggedBlock<TOps, TVec>(k, ref Unsafe.Add(ref a, i), aColumn, ref Unsafe.Add(ref bj, column), b.RowStride, column + 1 < columns,
                        ref Unsafe.Add(ref c, (nint)i * ldc + j + column), ldc, accumulate, ref Unsafe.NullRef<float>(), resume: false, final: true);
            return;
        }
        int depth = PackedDepth<TOps, TVec>();
        ref float packed = ref MemoryMarshal.GetArrayDataReference(scratch);
        ref float sums = ref Unsafe.Add(ref packed, depth * 2 * w); // 8 registers per block of rows and pair of columns
        for (int first = 0; first < k; first += depth)
        {
            int count = Math.Min(depth, k - first);
            b.Pack<TOps, TVec>(first, count, n - w, 1, ref packed);
            int block = 0;
            for (int i = 0; i < m; i += rows)
                for (int column = 0; column < columns; column += 2, block++)
                    RaggedBlock<TOps, TVec>(count, ref Unsafe.Add(ref a, (nint)first * aColumn + i), aColumn, ref Unsafe.Add(ref packed, w - columns + column), w,
                        column + 1 < columns, ref Unsafe.Add(ref c, (nint)i * ldc + j + column), ldc, accumulate, ref Unsafe.Add(ref sums, block * 8 * w),
                        resume: first > 0, final: first + count == k);
        }
    }

    // Rows [0, 4 registers) × columns 0 and 1 of B (column 0 alone unless `pair`) over k: 8 independent chains, each
    // element one chain of multiply-adds over k in order as in a row block (a·b + s either way round), so the same bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RaggedBlock<TOps, TVec>(int k, ref float a, int aColumn, ref float b, int ldb, bool pair,
        ref float c, int ldc, bool accumulate, ref float sums, bool resume, bool final)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count;
        TVec s00 = TOps.Zero, s10 = TOps.Zero, s20 = TOps.Zero, s30 = TOps.Zero;
        TVec s01 = TOps.Zero, s11 = TOps.Zero, s21 = TOps.Zero, s31 = TOps.Zero;
        if (resume)
        {
            s00 = TOps.Load(ref sums); s10 = TOps.Load(ref Unsafe.Add(ref sums, w));
            s20 = TOps.Load(ref Unsafe.Add(ref sums, 2 * w)); s30 = TOps.Load(ref Unsafe.Add(ref sums, 3 * w));
            s01 = TOps.Load(ref Unsafe.Add(ref sums, 4 * w)); s11 = TOps.Load(ref Unsafe.Add(ref sums, 5 * w));
            s21 = TOps.Load(ref Unsafe.Add(ref sums, 6 * w)); s31 = TOps.Load(ref Unsafe.Add(ref sums, 7 * w));
        }
        nint second = pair ? 1 : 0, aStep = aColumn, bStep = ldb; // alone, column 0 is computed twice and stored once
        ref float ap = ref a;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            TVec a0 = TOps.Load(ref ap), a1 = TOps.Load(ref Unsafe.Add(ref ap, w));
            TVec a2 = TOps.Load(ref Unsafe.Add(ref ap, 2 * w)), a3 = TOps.Load(ref Unsafe.Add(ref ap, 3 * w));
            TVec x = TOps.Broadcast(bp), y = TOps.Broadcast(Unsafe.Add(ref bp, second));
            s00 = TOps.MultiplyAdd(a0, x, s00); s01 = TOps.MultiplyAdd(a0, y, s01);
            s10 = TOps.MultiplyAdd(a1, x, s10); s11 = TOps.MultiplyAdd(a1, y, s11);
            s20 = TOps.MultiplyAdd(a2, x, s20); s21 = TOps.MultiplyAdd(a2, y, s21);
            s30 = TOps.MultiplyAdd(a3, x, s30); s31 = TOps.MultiplyAdd(a3, y, s31);
            ap = ref Unsafe.Add(ref ap, aStep);
            bp = ref Unsafe.Add(ref bp, bStep);
        }
        if (!final)
        {
            TOps.Store(s00, ref sums); TOps.Store(s10, ref Unsafe.Add(ref sums, w));
            TOps.Store(s20, ref Unsafe.Add(ref sums, 2 * w)); TOps.Store(s30, ref Unsafe.Add(ref sums, 3 * w));
            TOps.Store(s01, ref Unsafe.Add(ref sums, 4 * w)); TOps.Store(s11, ref Unsafe.Add(ref sums, 5 * w));
            TOps.Store(s21, ref Unsafe.Add(ref sums, 6 * w)); TOps.Store(s31, ref Unsafe.Add(ref sums, 7 * w));
            return;
        }
        // Down the columns of C through memory: a call here (one that took a register) would keep the sums on the stack
        // through the whole loop above, and the loop would wait on them (12 cycles a step instead of 4).
        Span<float> lanes = stackalloc float[8 * w];
        ref float l = ref MemoryMarshal.GetReference(lanes);
        TOps.Store(s00, ref l); TOps.Store(s10, ref Unsafe.Add(ref l, w));
        TOps.Store(s20, ref Unsafe.Add(ref l, 2 * w)); TOps.Store(s30, ref Unsafe.Add(ref l, 3 * w));
        TOps.Store(s01, ref Unsafe.Add(ref l, 4 * w)); TOps.Store(s11, ref Unsafe.Add(ref l, 5 * w));
        TOps.Store(s21, ref Unsafe.Add(ref l, 6 * w)); TOps.Store(s31, ref Unsafe.Add(ref l, 7 * w));
        for (int column = 0; column < (pair ? 2 : 1); column++)
            for (int row = 0; row < 4 * w; row++)
            {
                ref float element = ref Unsafe.Add(ref c, (nint)row * ldc + column);
                float sum = lanes[column * 4 * w + row];
                element = accumulate ? element + sum : sum;
            }
    }

    // One row of C left over from the row blocks (a batch-1 Dense is nothing else), columns [first, first + 4 registers)
    // ∩ [0, n) in one pass over k: up to four independent chains of multiply-adds instead of one or two per panel, and
    // B read once for them. Each element is still one chain over k in order, so its bits are those of a row block's.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SingleRow<TOps, TVec>(int k, ref float a, int aColumn, ref float b, int ldb, ref float c, bool accumulate, int first, int n)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count, registers = Math.Min(4, (n - first + w - 1) / w);
        // The last register ends at column n, its lanes before `first + (registers − 1)·w` left to the one before (n ≥ w).
        int last = Math.Min(first + (registers - 1) * w, n - w);
        TVec mask = TOps.LanesFrom(first + (registers - 1) * w - last);
        TVec c0 = TOps.Zero, c1 = TOps.Zero, c2 = TOps.Zero, c3 = TOps.Zero;
        ref float bp = ref b;
        for (int p = 0; p < k; p++)
        {
            TVec x = TOps.Broadcast(Unsafe.Add(ref a, (nint)p * aColumn));
            if (registers == 1) c0 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, last)), c0);
            else
            {
                c0 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, first)), c0);
                if (registers == 2) c1 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, last)), c1);
                else
                {
                    c1 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, first + w)), c1);
                    if (registers == 3) c2 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, last)), c2);
                    else
                    {
                        c2 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, first + 2 * w)), c2);
                        c3 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bp, last)), c3);
                    }
                }
            }
            bp = ref Unsafe.Add(ref bp, ldb);
        }
        if (registers > 1) StoreRow<TOps, TVec>(c0, ref Unsafe.Add(ref c, first), accumulate);
        if (registers > 2) StoreRow<TOps, TVec>(c1, ref Unsafe.Add(ref c, first + w), accumulate);
        if (registers > 3) StoreRow<TOps, TVec>(c2, ref Unsafe.Add(ref c, first + 2 * w), accumulate);
        StoreMasked<TOps, TVec>(registers switch { 1 => c0, 2 => c1, 3 => c2, _ => c3 }, ref Unsafe.Add(ref c, last), accumulate, mask);
    }

    // Whether a panel of B (K rows of one or two registers) is worth copying, a slice of rows at a time, into a
    // contiguous buffer that stays in L1 while every block of rows of A reads it: when four or more blocks read it, K is
    // long enough for each block's pass to outweigh the copy, and the rows span more than L1. Read in place, such a
    // panel comes from L2 again for every block, and rows ldb floats apart compete for a few cache sets (ldb = 256
    // puts them all in 4 of the 64 sets of a 48 KB L1). Conv2D layers, packed against in place in one process, 2
    // threads: 0.94–0.96 of the time for 5×5 windows over 32 channels (K = 800), stride 2 and 1×1 (ldb = 256), but
    // 1.06–1.07 for K = 25 and 27 (5×5 over one channel, 3×3 over three), hence the floor on K. Two blocks do not repay
    // the copy: a Winograd layer over 8×8 images (16 tiles, so 16 rows a product) took 0.905 and 0.934 of the time in
    // inference (0.961 and 0.992 in training) read in place, where the floor was two blocks. Each block keeps its sums
    // between slices in a scratch tile, so every element is still one chain of multiply-adds over K in order: the
    // same bits as in place.
    private static bool PacksPanels<TOps, TVec>(int blockedRows, int k, int ldb)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        blockedRows >= 4 * (TOps.Count == Vector512<float>.Count ? 8 : 4) && k >= PackedMinimumDepth
        && (long)k * ldb * sizeof(float) > PanelSpanBytes;

    private const int PanelSpanBytes = 32 * 1024, PackedSliceBytes = 16 * 1024, PackedMinimumDepth = 64;

    // Rows of B per packed slice: 16 KB of a two-register panel, with room in L1 beside it for the block of A it meets.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PackedDepth<TOps, TVec>() where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        PackedSliceBytes / (2 * TOps.Count * sizeof(float));

    // One panel of one or two registers' width from column `column` of B (the second register, if any, is never masked),
    // rows [0, m) of C, m a multiple of 4: read in place, or with `scratch` packed slice by slice (PacksPanels), the
    // slice first in it, then the blocks' running sums (m rows of the panel's width).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Panel<TOps, TVec, TSource>(int m, int k, ref float a, int aRow, int aColumn, scoped ref TSource b, int column, float[]? scratch,
        ref float c, int ldc, bool accumulate, int registers, TVec mask)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TSource : IMatrixSource, allows ref struct
    {
        if (scratch is null)
        {
            RowBlocks<TOps, TVec>(m, k, ref a, aRow, aColumn, ref b.At(0, column), b.RowStride, ref c, ldc, accumulate, registers, mask,
                ref Unsafe.NullRef<float>(), resume: false, final: true);
            return;
        }
        int w = TOps.Count, width = registers * w, depth = PackedDepth<TOps, TVec>();
        ref float packed = ref MemoryMarshal.GetArrayDataReference(scratch);
        ref float sums = ref Unsafe.Add(ref packed, depth * 2 * w);
        for (int first = 0; first < k; first += depth)
        {
            int rows = Math.Min(depth, k - first);
            b.Pack<TOps, TVec>(first, rows, column, registers, ref packed);
            RowBlocks<TOps, TVec>(m, rows, ref Unsafe.Add(ref a, (nint)first * aColumn), aRow, aColumn, ref packed, width, ref c, ldc, accumulate,
                registers, mask, ref sums, resume: first > 0, final: first + rows == k);
        }
    }

    // Rows [0, m) of a panel over k rows of B, in blocks of 8 (AVX-512) or 4; `sums` (rows of the panel's width) carries
    // each block's running sums from one slice of K to the next unless the slice is the whole of K.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowBlocks<TOps, TVec>(int m, int k, ref float a, int aRow, int aColumn, ref float b, int ldb,
        ref float c, int ldc, bool accumulate, int registers, TVec mask, ref float sums, bool resume, bool final)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int i = 0;
        if (TOps.Count == Vector512<float>.Count)
            for (; i + 8 <= m; i += 8)
                RowBlock<TOps, TVec, EightRows>(k, ref Unsafe.Add(ref a, (nint)i * aRow), aRow, aColumn, ref b, ldb,
                    ref Unsafe.Add(ref c, (nint)i * ldc), ldc, accumulate, registers, mask, ref BlockSums(ref sums, i, registers), resume, final);
        for (; i + 4 <= m; i += 4)
            RowBlock<TOps, TVec, FourRows>(k, ref Unsafe.Add(ref a, (nint)i * aRow), aRow, aColumn, ref b, ldb,
                ref Unsafe.Add(ref c, (nint)i * ldc), ldc, accumulate, registers, mask, ref BlockSums(ref sums, i, registers), resume, final);

        // The running sums of the block at row i, if there is a tile (a null ref stays one: never offset).
        static ref float BlockSums(ref float tile, int row, int registers) =>
            ref Unsafe.IsNullRef(ref tile) ? ref tile : ref Unsafe.Add(ref tile, (nint)row * registers * TOps.Count);
    }

    // TRows.Rows (4 or 8, a constant to the JIT, which drops the unused half) rows × one or two registers of C, over k
    // rows of B: starting from the running sums in `sums` if `resume`, and leaving them there unless `final`. Too large
    // to inline now, so optimized at its first call like the entry points.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<TOps, TVec, TRows>(int k, ref float a, int aRow, int aColumn, ref float b, int ldb,
        ref float c, int ldc, bool accumulate, int registers, TVec mask, ref float sums, bool resume, bool final)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TRows : struct, IRowBlock
    {
        int w = TOps.Count, width = registers * w;
        bool eight = TRows.Rows == 8, two = registers == 2;
        TVec c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
        TVec c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
        TVec c40 = TOps.Zero, c41 = TOps.Zero, c50 = TOps.Zero, c51 = TOps.Zero;
        TVec c60 = TOps.Zero, c61 = TOps.Zero, c70 = TOps.Zero, c71 = TOps.Zero;
        if (resume)
        {
            c00 = TOps.Load(ref sums); c10 = TOps.Load(ref Unsafe.Add(ref sums, width));
            c20 = TOps.Load(ref Unsafe.Add(ref sums, 2 * width)); c30 = TOps.Load(ref Unsafe.Add(ref sums, 3 * width));
            if (eight)
            {
                c40 = TOps.Load(ref Unsafe.Add(ref sums, 4 * width)); c50 = TOps.Load(ref Unsafe.Add(ref sums, 5 * width));
                c60 = TOps.Load(ref Unsafe.Add(ref sums, 6 * width)); c70 = TOps.Load(ref Unsafe.Add(ref sums, 7 * width));
            }
            if (two)
            {
                c01 = TOps.Load(ref Unsafe.Add(ref sums, w)); c11 = TOps.Load(ref Unsafe.Add(ref sums, width + w));
                c21 = TOps.Load(ref Unsafe.Add(ref sums, 2 * width + w)); c31 = TOps.Load(ref Unsafe.Add(ref sums, 3 * width + w));
                if (eight)
                {
                    c41 = TOps.Load(ref Unsafe.Add(ref sums, 4 * width + w)); c51 = TOps.Load(ref Unsafe.Add(ref sums, 5 * width + w));
                    c61 = TOps.Load(ref Unsafe.Add(ref sums, 6 * width + w)); c71 = TOps.Load(ref Unsafe.Add(ref sums, 7 * width + w));
                }
            }
        }
        // Every offset the loops use, computed once: offsets the JIT would otherwise rebuild on every step (3·row as
        // lea, 7·row as imul) take the ports the multiply-adds issue on.
        nint row = aRow, row3 = 3 * row, row4 = 4 * row, row5 = 5 * row, row7 = 7 * row, aStep = aColumn, bStep = ldb;
        ref float ap = ref a;
        ref float bp = ref b;
        if (two)
        {
            for (int p = 0; p < k; p++)
            {
                TVec b0 = TOps.Load(ref bp), b1 = TOps.Load(ref Unsafe.Add(ref bp, w));
                TVec x = TOps.Broadcast(ap);
                c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
                x = TOps.Broadcast(Unsafe.Add(ref ap, row));
                c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11);
                x = TOps.Broadcast(Unsafe.Add(ref ap, 2 * row));
                c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21);
                x = TOps.Broadcast(Unsafe.Add(ref ap, row3));
                c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31);
                if (eight)
                {
                    x = TOps.Broadcast(Unsafe.Add(ref ap, row4));
                    c40 = TOps.MultiplyAdd(x, b0, c40); c41 = TOps.MultiplyAdd(x, b1, c41);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, row5));
                    c50 = TOps.MultiplyAdd(x, b0, c50); c51 = TOps.MultiplyAdd(x, b1, c51);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, 2 * row3));
                    c60 = TOps.MultiplyAdd(x, b0, c60); c61 = TOps.MultiplyAdd(x, b1, c61);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, row7));
                    c70 = TOps.MultiplyAdd(x, b0, c70); c71 = TOps.MultiplyAdd(x, b1, c71);
                }
                ap = ref Unsafe.Add(ref ap, aStep);
                bp = ref Unsafe.Add(ref bp, bStep);
            }
        }
        else
        {
            for (int p = 0; p < k; p++)
            {
                TVec b0 = TOps.Load(ref bp);
                c00 = TOps.MultiplyAdd(TOps.Broadcast(ap), b0, c00);
                c10 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, row)), b0, c10);
                c20 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, 2 * row)), b0, c20);
                c30 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, row3)), b0, c30);
                if (eight)
                {
                    c40 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, row4)), b0, c40);
                    c50 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, row5)), b0, c50);
                    c60 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, 2 * row3)), b0, c60);
                    c70 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ap, row7)), b0, c70);
                }
                ap = ref Unsafe.Add(ref ap, aStep);
                bp = ref Unsafe.Add(ref bp, bStep);
            }
        }
        if (!final)
        {
            TOps.Store(c00, ref sums); TOps.Store(c10, ref Unsafe.Add(ref sums, width));
            TOps.Store(c20, ref Unsafe.Add(ref sums, 2 * width)); TOps.Store(c30, ref Unsafe.Add(ref sums, 3 * width));
            if (eight)
            {
                TOps.Store(c40, ref Unsafe.Add(ref sums, 4 * width)); TOps.Store(c50, ref Unsafe.Add(ref sums, 5 * width));
                TOps.Store(c60, ref Unsafe.Add(ref sums, 6 * width)); TOps.Store(c70, ref Unsafe.Add(ref sums, 7 * width));
            }
            if (two)
            {
                TOps.Store(c01, ref Unsafe.Add(ref sums, w)); TOps.Store(c11, ref Unsafe.Add(ref sums, width + w));
                TOps.Store(c21, ref Unsafe.Add(ref sums, 2 * width + w)); TOps.Store(c31, ref Unsafe.Add(ref sums, 3 * width + w));
                if (eight)
                {
                    TOps.Store(c41, ref Unsafe.Add(ref sums, 4 * width + w)); TOps.Store(c51, ref Unsafe.Add(ref sums, 5 * width + w));
                    TOps.Store(c61, ref Unsafe.Add(ref sums, 6 * width + w)); TOps.Store(c71, ref Unsafe.Add(ref sums, 7 * width + w));
                }
            }
            return;
        }
        ref float r = ref c;
        StoreBlockRow<TOps, TVec>(c00, c01, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c10, c11, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c20, c21, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c30, c31, ref r, accumulate, two, mask);
        if (!eight) return;
        r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c40, c41, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c50, c51, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c60, c61, ref r, accumulate, two, mask); r = ref Unsafe.Add(ref r, ldc);
        StoreBlockRow<TOps, TVec>(c70, c71, ref r, accumulate, two, mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBlockRow<TOps, TVec>(TVec first, TVec second, ref float destination, bool accumulate, bool two, TVec mask)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        if (two)
        {
            StoreRow<TOps, TVec>(first, ref destination, accumulate);
            StoreRow<TOps, TVec>(second, ref Unsafe.Add(ref destination, TOps.Count), accumulate);
        }
        else
            StoreMasked<TOps, TVec>(first, ref destination, accumulate, mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TOps, TVec>(TVec value, ref float destination, bool accumulate)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        TOps.Store(accumulate ? TOps.Add(TOps.Load(ref destination), value) : value, ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMasked<TOps, TVec>(TVec value, ref float destination, bool accumulate, TVec mask)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec old = TOps.Load(ref destination);
        TOps.Store(TOps.Select(mask, accumulate ? TOps.Add(old, value) : value, old), ref destination);
    }

    // For products narrower than one register: C(i,j) = Σp A(i,p)·B(p,j) with B(p,j) = b[p·bRow + j·bColumn].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScalarColumns(int m, int n, int k, ref float a, int aRow, int aColumn,
        ref float b, int bRow, int bColumn, ref float c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, (nint)i * aRow);
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                    sum += Unsafe.Add(ref ai, (nint)p * aColumn) * Unsafe.Add(ref b, (nint)p * bRow + (nint)j * bColumn);
                ref float cij = ref Unsafe.Add(ref c, (nint)i * ldc + j);
                cij = accumulate ? cij + sum : sum;
            }
        }
    }

    /// <summary>B as rows of a matrix in memory, <see cref="RowStride"/> floats apart.</summary>
    private readonly ref struct MatrixRows(ref float origin, int rowStride) : IMatrixSource
    {
        private readonly ref float origin = ref origin;

        public bool InMemory => true;

        public int RowStride { get; } = rowStride;

        public ref float At(int row, int column) => ref Unsafe.Add(ref origin, (nint)row * RowStride + column);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Pack<TOps, TVec>(int first, int rows, int column, int registers, ref float target)
            where TOps : struct, IFloatVector<TVec> where TVec : struct
        {
            int w = TOps.Count, width = registers * w;
            ref float source = ref At(first, column);
            for (int p = 0; p < rows; p++)
            {
                TOps.Store(TOps.Load(ref source), ref target);
                if (registers == 2) TOps.Store(TOps.Load(ref Unsafe.Add(ref source, w)), ref Unsafe.Add(ref target, w));
                source = ref Unsafe.Add(ref source, RowStride);
                target = ref Unsafe.Add(ref target, width);
            }
        }
    }

    // ---- NT: every C element is a dot product of a row of A and a row of B, both contiguous along K.
    // Blocks of 2 rows × 4 columns keep eight accumulators; the K tail is one register that ends at K,
    // with the lanes already counted masked to zero.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot<TOps, TVec>(int m, int n, int k, ref float a, int lda, ref float b, int ldb,
        ref float c, int ldc, bool accumulate)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count;
        if (k < w)
        {
            ScalarColumns(m, n, k, ref a, lda, 1, ref b, 1, ldb, ref c, ldc, accumulate);
            return;
        }
        int kFull = k - k % w;
        TVec tailMask = TOps.LanesFrom(kFull - (k - w));
        int steps = kFull / w + (kFull < k ? 1 : 0);
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            ref float a0 = ref Unsafe.Add(ref a, (nint)i * lda);
            ref float a1 = ref Unsafe.Add(ref a0, lda);
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                ref float b0 = ref Unsafe.Add(ref b, (nint)j * ldb);
                ref float b1 = ref Unsafe.Add(ref b0, ldb);
                ref float b2 = ref Unsafe.Add(ref b1, ldb);
                ref float b3 = ref Unsafe.Add(ref b2, ldb);
                TVec s00 = TOps.Zero, s01 = TOps.Zero, s02 = TOps.Zero, s03 = TOps.Zero;
                TVec s10 = TOps.Zero, s11 = TOps.Zero, s12 = TOps.Zero, s13 = TOps.Zero;
                for (int step = 0; step < steps; step++)
                {
                    int p = step * w;
                    bool tail = p >= kFull;
                    if (tail) p = k - w;
                    TVec x0 = TOps.Load(ref Unsafe.Add(ref a0, p)), x1 = TOps.Load(ref Unsafe.Add(ref a1, p));
                    if (tail) { x0 = TOps.Select(tailMask, x0, TOps.Zero); x1 = TOps.Select(tailMask, x1, TOps.Zero); }
                    TVec y = TOps.Load(ref Unsafe.Add(ref b0, p));
                    s00 = TOps.MultiplyAdd(x0, y, s00); s10 = TOps.MultiplyAdd(x1, y, s10);
                    y = TOps.Load(ref Unsafe.Add(ref b1, p));
                    s01 = TOps.MultiplyAdd(x0, y, s01); s11 = TOps.MultiplyAdd(x1, y, s11);
                    y = TOps.Load(ref Unsafe.Add(ref b2, p));
                    s02 = TOps.MultiplyAdd(x0, y, s02); s12 = TOps.MultiplyAdd(x1, y, s12);
                    y = TOps.Load(ref Unsafe.Add(ref b3, p));
                    s03 = TOps.MultiplyAdd(x0, y, s03); s13 = TOps.MultiplyAdd(x1, y, s13);
                }
                ref float r0 = ref Unsafe.Add(ref c, (nint)i * ldc + j);
                ref float r1 = ref Unsafe.Add(ref r0, ldc);
                Put(ref r0, TOps.Sum(s00), accumulate); Put(ref Unsafe.Add(ref r0, 1), TOps.Sum(s01), accumulate);
                Put(ref Unsafe.Add(ref r0, 2), TOps.Sum(s02), accumulate); Put(ref Unsafe.Add(ref r0, 3), TOps.Sum(s03), accumulate);
                Put(ref r1, TOps.Sum(s10), accumulate); Put(ref Unsafe.Add(ref r1, 1), TOps.Sum(s11), accumulate);
                Put(ref Unsafe.Add(ref r1, 2), TOps.Sum(s12), accumulate); Put(ref Unsafe.Add(ref r1, 3), TOps.Sum(s13), accumulate);
            }
        }
        // The columns left over from the blocks of 4 (conv1's weight gradient: 9 = 4 + 4 + 1), for the rows the pairs
        // covered, 8 or 4 rows at a time: one dot product alone is a single chain of multiply-adds, waiting on each one's
        // latency, and a third of conv1's backward pass went there.
        int blocked = n - n % 4;
        for (int j = blocked; j < n; j++)
        {
            ref float bj = ref Unsafe.Add(ref b, (nint)j * ldb);
            int row = 0;
            for (; row + 8 <= i; row += 8)
                DotColumn<TOps, TVec, EightRows>(ref Unsafe.Add(ref a, (nint)row * lda), lda, ref bj, k, kFull, steps, tailMask,
                    ref Unsafe.Add(ref c, (nint)row * ldc + j), ldc, accumulate);
            for (; row + 4 <= i; row += 4)
                DotColumn<TOps, TVec, FourRows>(ref Unsafe.Add(ref a, (nint)row * lda), lda, ref bj, k, kFull, steps, tailMask,
                    ref Unsafe.Add(ref c, (nint)row * ldc + j), ldc, accumulate);
            for (; row < i; row++)
                Put(ref Unsafe.Add(ref c, (nint)row * ldc + j), DotRow<TOps, TVec>(ref Unsafe.Add(ref a, (nint)row * lda), ref bj, k, kFull, tailMask), accumulate);
        }
        for (; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, (nint)i * lda);
            for (int j = 0; j < n; j++)
                Put(ref Unsafe.Add(ref c, (nint)i * ldc + j), DotRow<TOps, TVec>(ref ai, ref Unsafe.Add(ref b, (nint)j * ldb), k, kFull, tailMask), accumulate);
        }
    }

    // Column j of C for TRows.Rows rows of A: that many dot products side by side, each the chain DotRow computes (A's
    // lanes masked in the tail register), so the same bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotColumn<TOps, TVec, TRows>(ref float a, int lda, ref float bj, int k, int kFull, int steps, TVec tailMask,
        ref float c, int ldc, bool accumulate)
        where TOps : struct, IFloatVector<TVec> where TVec : struct where TRows : struct, IRowBlock
    {
        int w = TOps.Count;
        bool eight = TRows.Rows == 8;
        nint row = lda, row3 = 3 * row, row4 = 4 * row, row5 = 5 * row, row7 = 7 * row;
        TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero, s4 = TOps.Zero, s5 = TOps.Zero, s6 = TOps.Zero, s7 = TOps.Zero;
        for (int step = 0; step < steps; step++)
        {
            int p = step * w;
            bool tail = p >= kFull;
            if (tail) p = k - w;
            TVec y = TOps.Load(ref Unsafe.Add(ref bj, p));
            ref float ap = ref Unsafe.Add(ref a, p);
            s0 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref ap), tail, tailMask), y, s0);
            s1 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, row)), tail, tailMask), y, s1);
            s2 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, 2 * row)), tail, tailMask), y, s2);
            s3 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, row3)), tail, tailMask), y, s3);
            if (eight)
            {
                s4 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, row4)), tail, tailMask), y, s4);
                s5 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, row5)), tail, tailMask), y, s5);
                s6 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, 2 * row3)), tail, tailMask), y, s6);
                s7 = TOps.MultiplyAdd(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref ap, row7)), tail, tailMask), y, s7);
            }
        }
        Put(ref c, TOps.Sum(s0), accumulate);
        Put(ref Unsafe.Add(ref c, ldc), TOps.Sum(s1), accumulate);
        Put(ref Unsafe.Add(ref c, 2 * ldc), TOps.Sum(s2), accumulate);
        Put(ref Unsafe.Add(ref c, 3 * ldc), TOps.Sum(s3), accumulate);
        if (!eight) return;
        Put(ref Unsafe.Add(ref c, 4 * ldc), TOps.Sum(s4), accumulate);
        Put(ref Unsafe.Add(ref c, 5 * ldc), TOps.Sum(s5), accumulate);
        Put(ref Unsafe.Add(ref c, 6 * ldc), TOps.Sum(s6), accumulate);
        Put(ref Unsafe.Add(ref c, 7 * ldc), TOps.Sum(s7), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Masked<TOps, TVec>(TVec value, bool tail, TVec tailMask)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        tail ? TOps.Select(tailMask, value, TOps.Zero) : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float destination, float value, bool accumulate) =>
        destination = accumulate ? destination + value : value;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotRow<TOps, TVec>(ref float x, ref float y, int k, int kFull, TVec tailMask)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count;
        TVec sum = TOps.Zero;
        for (int p = 0; p < kFull; p += w)
            sum = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref x, p)), TOps.Load(ref Unsafe.Add(ref y, p)), sum);
        if (kFull < k)
        {
            TVec xt = TOps.Select(tailMask, TOps.Load(ref Unsafe.Add(ref x, k - w)), TOps.Zero);
            sum = TOps.MultiplyAdd(xt, TOps.Load(ref Unsafe.Add(ref y, k - w)), sum);
        }
        return TOps.Sum(sum);
    }
}
