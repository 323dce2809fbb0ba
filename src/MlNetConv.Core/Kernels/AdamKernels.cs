using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// One Adam update over every parameter in a single pass (Keras's rule; see <see cref="Training.Adam"/>):
/// m ← m + (g − m)(1 − β₁), v ← v + (g² − v)(1 − β₂), θ ← θ − α·m / (√v + ε), α already bias-corrected.
/// Moments that fall below the smallest normal float become 0 (<see cref="Subnormals"/>: why, and what it saves).
/// <see cref="Reference.AdamReference"/> is the same rule element by element.
/// </summary>
internal static class AdamKernels
{
    public static void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v,
        float alpha, float beta1, float beta2, float epsilon, SimdWidth width = 0)
    {
        int n = parameters.Length;
        if (gradients.Length != n || m.Length != n || v.Length != n)
            throw new ArgumentException($"Adam needs equal lengths; parameters {n}, gradients {gradients.Length}, moments {m.Length} and {v.Length}.");
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float rm = ref MemoryMarshal.GetReference(m);
        ref float rv = ref MemoryMarshal.GetReference(v);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: Step<Float512, Vector512<float>>(n, ref p, ref g, ref rm, ref rv, alpha, beta1, beta2, epsilon); break;
            case SimdWidth.Vector256: Step<Float256, Vector256<float>>(n, ref p, ref g, ref rm, ref rv, alpha, beta1, beta2, epsilon); break;
            case SimdWidth.Vector128: Step<Float128, Vector128<float>>(n, ref p, ref g, ref rm, ref rv, alpha, beta1, beta2, epsilon); break;
            default: Step<Float1, float>(n, ref p, ref g, ref rm, ref rv, alpha, beta1, beta2, epsilon); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Step<TOps, TVec>(int n, ref float p, ref float g, ref float m, ref float v,
        float alpha, float beta1, float beta2, float epsilon)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        TVec keep1 = TOps.Broadcast(1 - beta1), keep2 = TOps.Broadcast(1 - beta2), eps = TOps.Broadcast(epsilon), step = TOps.Broadcast(-alpha);
        TVec largest = TOps.Broadcast(Subnormals.Largest), negativeLargest = TOps.Broadcast(-Subnormals.Largest);
        for (; i + w <= n; i += w)
        {
            TVec gi = TOps.Load(ref Unsafe.Add(ref g, i));
            TVec mi = TOps.Load(ref Unsafe.Add(ref m, i)), vi = TOps.Load(ref Unsafe.Add(ref v, i));
            mi = Subnormals.Flush<TOps, TVec>(TOps.MultiplyAdd(TOps.Subtract(gi, mi), keep1, mi), largest, negativeLargest);
            vi = Subnormals.Flush<TOps, TVec>(TOps.MultiplyAdd(TOps.Subtract(TOps.Multiply(gi, gi), vi), keep2, vi), largest, negativeLargest);
            TOps.Store(mi, ref Unsafe.Add(ref m, i));
            TOps.Store(vi, ref Unsafe.Add(ref v, i));
            TVec update = TOps.Divide(mi, TOps.Add(TOps.Sqrt(vi), eps));
            TOps.Store(TOps.MultiplyAdd(update, step, TOps.Load(ref Unsafe.Add(ref p, i))), ref Unsafe.Add(ref p, i));
        }
        for (; i < n; i++)
        {
            float gi = Unsafe.Add(ref g, i);
            ref float mi = ref Unsafe.Add(ref m, i);
            ref float vi = ref Unsafe.Add(ref v, i);
            mi = Subnormals.Flush(mi + (gi - mi) * (1 - beta1));
            vi = Subnormals.Flush(vi + (gi * gi - vi) * (1 - beta2));
            Unsafe.Add(ref p, i) -= alpha * mi / (MathF.Sqrt(vi) + epsilon);
        }
    }
}
