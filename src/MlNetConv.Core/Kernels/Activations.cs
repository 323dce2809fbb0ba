using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Element-wise activations; softmax works per row of <c>rowLength</c> floats. The forward functions overwrite z
/// with a = f(z). The backward ones turn dA into dZ = f'(z)·dA using only a, so layers keep their outputs and
/// nothing else; they may run in place (dz and da the same span).
/// </summary>
internal static class Activations
{
    // In pieces (InCache): an image's output can pass 256 KB, past which TensorPrimitives writes around the caches.
    public static void Relu(Span<float> values) => InCache.Apply(values, static piece => TensorPrimitives.Max(piece, 0f, piece));

    /// <summary>max(x, 0) on a register as TensorPrimitives.Max takes it: +0 for −0, NaN kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Rectified<TOps, TVec>(TVec x) where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        TOps.Select(TOps.Or(TOps.GreaterThanZero(x), TOps.IsNaN(x)), x, TOps.Zero);

    public static void Sigmoid(Span<float> values) => InCache.Apply(values, static piece => TensorPrimitives.Sigmoid(piece, piece));

    public static void Tanh(Span<float> values) => InCache.Apply(values, static piece => TensorPrimitives.Tanh(piece, piece));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> values, int rowLength)
    {
        for (int start = 0; start < values.Length; start += rowLength)
        {
            Span<float> row = values.Slice(start, rowLength);
            TensorPrimitives.SoftMax(row, row);
        }
    }

    // dz = da·a·(1 − a)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidBackward(ReadOnlySpan<float> a, ReadOnlySpan<float> da, Span<float> dz)
    {
        for (int i = 0; i < dz.Length; i++) dz[i] = da[i] * a[i] * (1 - a[i]);
    }

    // dz = da·(1 − a²)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TanhBackward(ReadOnlySpan<float> a, ReadOnlySpan<float> da, Span<float> dz)
    {
        for (int i = 0; i < dz.Length; i++) dz[i] = da[i] * (1 - a[i] * a[i]);
    }

    // dz = a ⊙ (da − Σ da·a), row by row (the softmax Jacobian applied to da).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftmaxBackward(ReadOnlySpan<float> a, ReadOnlySpan<float> da, Span<float> dz, int rowLength)
    {
        for (int start = 0; start < dz.Length; start += rowLength)
        {
            ReadOnlySpan<float> ar = a.Slice(start, rowLength);
            float dot = TensorPrimitives.Dot(ar, da.Slice(start, rowLength));
            Span<float> row = dz.Slice(start, rowLength);
            TensorPrimitives.Subtract(da.Slice(start, rowLength), dot, row);
            TensorPrimitives.Multiply(row, ar, row);
        }
    }

    // dz = a > 0 ? da : 0. TensorPrimitives has no select, so this one loop is written with the width ops.
    public static void ReluBackward(ReadOnlySpan<float> a, ReadOnlySpan<float> da, Span<float> dz, SimdWidth width = 0)
    {
        if (a.Length != dz.Length || da.Length != dz.Length) throw new ArgumentException("Activation spans must have equal lengths.");
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rda = ref MemoryMarshal.GetReference(da);
        ref float rdz = ref MemoryMarshal.GetReference(dz);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: ReluBackward<Float512, Vector512<float>>(ref ra, ref rda, ref rdz, dz.Length); break;
            case SimdWidth.Vector256: ReluBackward<Float256, Vector256<float>>(ref ra, ref rda, ref rdz, dz.Length); break;
            case SimdWidth.Vector128: ReluBackward<Float128, Vector128<float>>(ref ra, ref rda, ref rdz, dz.Length); break;
            default: ReluBackward<Float1, float>(ref ra, ref rda, ref rdz, dz.Length); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReluBackward<TOps, TVec>(ref float a, ref float da, ref float dz, int length)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        for (; i + w <= length; i += w)
            TOps.Store(TOps.Select(TOps.GreaterThanZero(TOps.Load(ref Unsafe.Add(ref a, i))), TOps.Load(ref Unsafe.Add(ref da, i)), TOps.Zero),
                ref Unsafe.Add(ref dz, i));
        for (; i < length; i++) Unsafe.Add(ref dz, i) = Unsafe.Add(ref a, i) > 0 ? Unsafe.Add(ref da, i) : 0f;
    }
}
