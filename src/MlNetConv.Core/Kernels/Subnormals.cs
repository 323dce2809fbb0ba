using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Flush-to-zero for optimizer state: values below the smallest normal float become 0, as under TensorFlow, whose CPU
/// threads flush subnormal results. A moment or velocity whose gradient stays 0 (a dead unit's weights) shrinks by a
/// constant factor each step, enters the subnormal range after some 800 steps and stays there; on x86 every operation on
/// a subnormal takes a microcode assist. Measured on the textbook model after 3,000 steps: a fifth of Adam's first
/// moments were subnormal and the update took 1.8 ms a batch instead of 0.4.
/// </summary>
internal static class Subnormals
{
    /// <summary>The largest subnormal float, one step below the smallest normal one (2⁻¹²⁶).</summary>
    public static readonly float Largest = BitConverter.Int32BitsToSingle(0x007F_FFFF);

    /// <summary>0 for a subnormal, else <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Flush(float x) => x > Largest || x < -Largest ? x : 0;

    /// <summary>
    /// 0 in the lanes that hold a subnormal, else <paramref name="x"/>; <paramref name="largest"/> and
    /// <paramref name="negativeLargest"/> broadcast ±<see cref="Largest"/>. Compared, not computed on: a comparison takes no assist.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Flush<TOps, TVec>(TVec x, TVec largest, TVec negativeLargest)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        TOps.Select(TOps.Or(TOps.GreaterThan(x, largest), TOps.GreaterThan(negativeLargest, x)), x, TOps.Zero);

    /// <summary>Flushes every subnormal of <paramref name="values"/> to 0, in place.</summary>
    public static void Flush(Span<float> values, SimdWidth width = 0)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: Flush<Float512, Vector512<float>>(ref start, values.Length); break;
            case SimdWidth.Vector256: Flush<Float256, Vector256<float>>(ref start, values.Length); break;
            case SimdWidth.Vector128: Flush<Float128, Vector128<float>>(ref start, values.Length); break;
            default: Flush<Float1, float>(ref start, values.Length); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Flush<TOps, TVec>(ref float values, int n) where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec largest = TOps.Broadcast(Largest), negativeLargest = TOps.Broadcast(-Largest);
        int i = 0;
        for (; i + TOps.Count <= n; i += TOps.Count)
            TOps.Store(Flush<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref values, i)), largest, negativeLargest), ref Unsafe.Add(ref values, i));
        for (; i < n; i++) Unsafe.Add(ref values, i) = Flush(Unsafe.Add(ref values, i));
    }
}
