using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// What a matrix product does to each row of C once it is complete (<see cref="Gemm.MultiplyNN(int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool, in RowFinish, SimdWidth, ReadOnlySpan{float}, int)"/>),
/// panel by panel while the panel is still in L1, instead of passes of its own over C afterwards: add a bias per row
/// (a convolution's per filter), then with <see cref="Rectify"/> take max(·, 0) as <see cref="Activations.Relu"/> does.
/// The same operations on each element as those passes, so the same bits. <c>default</c> does nothing.
/// </summary>
internal readonly ref struct RowFinish(ReadOnlySpan<float> bias, bool rectify)
{
    /// <summary>A bias per row of C, or empty for none (nothing is added: −0 stays −0).</summary>
    public ReadOnlySpan<float> Bias { get; } = bias;

    /// <summary>Whether max(·, 0) follows.</summary>
    public bool Rectify { get; } = rectify;

    public bool IsNone => Bias.IsEmpty && !Rectify;

    internal void Check(int rows, bool accumulate)
    {
        if (IsNone) return;
        if (accumulate) throw new ArgumentException("A product that adds to C cannot finish its rows: they are not complete.", nameof(accumulate));
        if (!Bias.IsEmpty && Bias.Length != rows)
            throw new ArgumentException($"The bias has {Bias.Length} values for a product of {rows} rows.", "finish");
    }

    /// <summary>Rows [firstRow, endRow) × columns [firstColumn, endColumn) of C; at least a register of columns before endColumn.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Apply<TOps, TVec>(ref float c, int ldc, int firstRow, int endRow, int firstColumn, int endColumn)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count;
        bool biased = !Bias.IsEmpty;
        ref float bias = ref MemoryMarshal.GetReference(Bias);
        for (int i = firstRow; i < endRow; i++)
        {
            ref float row = ref Unsafe.Add(ref c, (nint)i * ldc);
            TVec b = biased ? TOps.Broadcast(Unsafe.Add(ref bias, i)) : TOps.Zero;
            int j = firstColumn;
            for (; j + w <= endColumn; j += w)
            {
                ref float values = ref Unsafe.Add(ref row, j);
                TOps.Store(Finished<TOps, TVec>(TOps.Load(ref values), b, biased), ref values);
            }
            if (j == endColumn) continue;
            // Fewer than a register left: the register that ends at endColumn, its lanes before j left as they are.
            ref float last = ref Unsafe.Add(ref row, endColumn - w);
            TVec old = TOps.Load(ref last);
            TOps.Store(TOps.Select(TOps.LanesFrom(j - (endColumn - w)), Finished<TOps, TVec>(old, b, biased), old), ref last);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec Finished<TOps, TVec>(TVec value, TVec bias, bool biased)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        if (biased) value = TOps.Add(value, bias);
        return Rectify ? Activations.Rectified<TOps, TVec>(value) : value;
    }
}
