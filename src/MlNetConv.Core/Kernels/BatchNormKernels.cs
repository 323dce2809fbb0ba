using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Batch normalization of one channel over a batch, forward and backward side by side. x (N, C, A): N samples of C
/// channels of A values each (A = H·W for images, 1 for flat features); every function works on channel c's N·A = M
/// values, so channels run in parallel and each sums in a fixed order.
/// <code>
/// forward   μ = Σx/M, σ² = Σ(x − μ)²/M (biased, as Keras), x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β
/// backward  dβ = Σ dy, dγ = Σ dy·x̂, dx = γ/(M·√(σ² + ε)) · (M·dy − dβ − x̂·dγ)
/// </code>
/// In inference μ and σ² are the moving statistics and dx = γ·dy/√(σ² + ε).
/// </summary>
internal static class BatchNormKernels
{
    /// <summary>Channel c's mean and biased variance over the batch (two passes: the variance of the centred values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float Mean, float Variance) Moments(ReadOnlySpan<float> x, int batch, int channels, int area, int c)
    {
        double sum = 0;
        for (int n = 0; n < batch; n++) sum += TensorPrimitives.Sum(x.Slice((n * channels + c) * area, area));
        float mean = (float)(sum / ((long)batch * area));
        float[] scratch = ArrayPool<float>.Shared.Rent(area);
        try
        {
            Span<float> centred = scratch.AsSpan(0, area);
            double squares = 0;
            for (int n = 0; n < batch; n++)
            {
                TensorPrimitives.Subtract(x.Slice((n * channels + c) * area, area), mean, centred);
                squares += TensorPrimitives.SumOfSquares(centred);
            }
            return (mean, (float)(squares / ((long)batch * area)));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// y = x·scale + shift on channel c, with scale = γ/√(σ² + ε) and shift = β − μ·scale; then, with <paramref name="relu"/>
    /// (a ReLU fused after the normalization), max(y, 0), each image's values while they are in cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int area, int c, float scale, float shift,
        bool relu = false)
    {
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * area;
            ScaleAndShift(x.Slice(start, area), y.Slice(start, area), scale, shift, relu);
        }
    }

    /// <summary>
    /// y = x·scale + shift, the product and the sum each rounded, then with <paramref name="relu"/> max(y, 0), in one pass: the
    /// bits of TensorPrimitives' Multiply, Add and Max one after the other (<see cref="Reference.BatchNormReference.ScaleAndShift"/>).
    /// </summary>
    public static void ScaleAndShift(ReadOnlySpan<float> x, Span<float> y, float scale, float shift, bool relu, SimdWidth width = 0)
    {
        if (x.Length != y.Length) throw new ArgumentException($"The normalization needs equal lengths; x {x.Length}, y {y.Length}.");
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: ScaleAndShift<Float512, Vector512<float>>(ref rx, ref ry, y.Length, scale, shift, relu); break;
            case SimdWidth.Vector256: ScaleAndShift<Float256, Vector256<float>>(ref rx, ref ry, y.Length, scale, shift, relu); break;
            case SimdWidth.Vector128: ScaleAndShift<Float128, Vector128<float>>(ref rx, ref ry, y.Length, scale, shift, relu); break;
            default: ScaleAndShift<Float1, float>(ref rx, ref ry, y.Length, scale, shift, relu); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleAndShift<TOps, TVec>(ref float x, ref float y, int n, float scale, float shift, bool relu)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec vScale = TOps.Broadcast(scale), vShift = TOps.Broadcast(shift);
        int w = TOps.Count, i = 0;
        for (; i + w <= n; i += w)
        {
            TVec value = TOps.Add(TOps.Multiply(TOps.Load(ref Unsafe.Add(ref x, i)), vScale), vShift);
            // max(y, 0) as TensorPrimitives.Max: a NaN stays, −0 becomes +0.
            if (relu) value = TOps.Select(TOps.Or(TOps.GreaterThanZero(value), TOps.IsNaN(value)), value, TOps.Zero);
            TOps.Store(value, ref Unsafe.Add(ref y, i));
        }
        for (; i < n; i++)
        {
            float value = Unsafe.Add(ref x, i) * scale + shift;
            Unsafe.Add(ref y, i) = relu && !(value > 0 || float.IsNaN(value)) ? 0f : value;
        }
    }

    /// <summary>
    /// Channel c's backward pass given μ and 1/√(σ² + ε) of the forward pass: returns (dγ, dβ) and, unless
    /// <paramref name="dx"/> is empty, writes dx. <paramref name="batchStatistics"/>: the forward pass used the batch's own
    /// statistics (training), so they depend on x too; otherwise they were constants (inference).
    /// With <paramref name="relu"/>, a ReLU fused after the normalization, <paramref name="dy"/> is that ReLU's output
    /// gradient, and the normalization's own is dy where the ReLU's output was positive, 0 elsewhere: made per image in
    /// scratch for the sums, and inside the pass that writes dx, so it never goes through memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float DGamma, float DBeta) Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int batch, int channels,
        int area, int c, float mean, float inverseStd, float gamma, bool batchStatistics, ReluAfter? relu = null)
    {
        double sumDy = 0, sumDyX = 0;
        float[]? scratch = relu is null ? null : ArrayPool<float>.Shared.Rent(area);
        try
        {
            for (int n = 0; n < batch; n++)
            {
                int start = (n * channels + c) * area;
                ReadOnlySpan<float> gradient = dy.Slice(start, area);
                if (relu is { } kept)
                {
                    ReluGradient(x.Slice(start, area), gradient, scratch.AsSpan(0, area), kept);
                    gradient = scratch.AsSpan(0, area);
                }
                sumDy += TensorPrimitives.Sum(gradient);
                sumDyX += TensorPrimitives.Dot(gradient, x.Slice(start, area));
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
        }
        // Σ dy·x̂ = (Σ dy·x − μ·Σ dy)/σ
        float dBeta = (float)sumDy, dGamma = (float)((sumDyX - mean * sumDy) * inverseStd);
        if (dx.IsEmpty) return (dGamma, dBeta);
        float k = gamma * inverseStd;
        // Training: dx = k·dy + p·x + q, with p = −k·dγ·σ⁻¹/M and q = −k·dβ/M − p·μ (the statistics' own gradients).
        float m = (float)((long)batch * area);
        float p = batchStatistics ? -k * dGamma * inverseStd / m : 0f;
        float q = batchStatistics ? -k * dBeta / m - p * mean : 0f;
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * area;
            InputGradient(x.Slice(start, area), dy.Slice(start, area), dx.Slice(start, area), p, q, k, relu);
        }
        return (dGamma, dBeta);
    }

    /// <summary>
    /// A ReLU fused after the normalization (LayerPass.Fused), as its backward pass sees it: its input was
    /// y = x·<paramref name="Scale"/> + <paramref name="Shift"/>, with the forward pass's bits, so its output was positive
    /// exactly where y is. The mask is made again from x, which the backward pass reads anyway, instead of reading the
    /// ReLU's output from memory.
    /// </summary>
    public readonly record struct ReluAfter(float Scale, float Shift);

    /// <summary>
    /// The normalization's dy under a fused ReLU: <paramref name="dy"/> where x·scale + shift &gt; 0, else 0, over one
    /// image's values of a channel (<see cref="Reference.BatchNormReference.ReluGradient"/>: the ReLU's forward, then its backward).
    /// </summary>
    public static void ReluGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> gradient, ReluAfter relu, SimdWidth width = 0)
    {
        int n = gradient.Length;
        if (x.Length != n || dy.Length != n)
            throw new ArgumentException($"The fused ReLU's gradient needs equal lengths; gradient {n}, x {x.Length}, dy {dy.Length}.");
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rg = ref MemoryMarshal.GetReference(gradient);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: ReluGradient<Float512, Vector512<float>>(ref rx, ref rdy, ref rg, n, relu); break;
            case SimdWidth.Vector256: ReluGradient<Float256, Vector256<float>>(ref rx, ref rdy, ref rg, n, relu); break;
            case SimdWidth.Vector128: ReluGradient<Float128, Vector128<float>>(ref rx, ref rdy, ref rg, n, relu); break;
            default: ReluGradient<Float1, float>(ref rx, ref rdy, ref rg, n, relu); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReluGradient<TOps, TVec>(ref float x, ref float dy, ref float gradient, int n, ReluAfter relu)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec scale = TOps.Broadcast(relu.Scale), shift = TOps.Broadcast(relu.Shift);
        int w = TOps.Count, i = 0;
        for (; i + w <= n; i += w)
            TOps.Store(Masked<TOps, TVec>(TOps.Load(ref Unsafe.Add(ref dy, i)), TOps.Load(ref Unsafe.Add(ref x, i)), scale, shift),
                ref Unsafe.Add(ref gradient, i));
        for (; i < n; i++) Unsafe.Add(ref gradient, i) = Masked(Unsafe.Add(ref dy, i), Unsafe.Add(ref x, i), relu);
    }

    // dy where the fused ReLU's input x·scale + shift (each rounded, as in ScaleAndShift) is positive, else 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Masked<TOps, TVec>(TVec dy, TVec x, TVec scale, TVec shift)
        where TOps : struct, IFloatVector<TVec> where TVec : struct =>
        TOps.Select(TOps.GreaterThanZero(TOps.Add(TOps.Multiply(x, scale), shift)), dy, TOps.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Masked(float dy, float x, ReluAfter relu) => x * relu.Scale + relu.Shift > 0 ? dy : 0f;

    /// <summary>
    /// dx = (x·p + q) + dy·k over one image's values of a channel, every product and sum rounded on its own (the bits of
    /// TensorPrimitives' Multiply, Add and MultiplyAdd one after the other, <see cref="Reference.BatchNormReference.InputGradient"/>)
    /// in one pass; with <paramref name="relu"/>, dy counts only where the fused ReLU's output was positive.
    /// </summary>
    public static void InputGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float p, float q, float k,
        ReluAfter? relu, SimdWidth width = 0)
    {
        int n = dx.Length;
        if (x.Length != n || dy.Length != n)
            throw new ArgumentException($"The normalization's input gradient needs equal lengths; dx {n}, x {x.Length}, dy {dy.Length}.");
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: InputGradient<Float512, Vector512<float>>(ref rx, ref rdy, ref rdx, n, p, q, k, relu); break;
            case SimdWidth.Vector256: InputGradient<Float256, Vector256<float>>(ref rx, ref rdy, ref rdx, n, p, q, k, relu); break;
            case SimdWidth.Vector128: InputGradient<Float128, Vector128<float>>(ref rx, ref rdy, ref rdx, n, p, q, k, relu); break;
            default: InputGradient<Float1, float>(ref rx, ref rdy, ref rdx, n, p, q, k, relu); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradient<TOps, TVec>(ref float x, ref float dy, ref float dx, int n, float p, float q, float k, ReluAfter? relu)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec vp = TOps.Broadcast(p), vq = TOps.Broadcast(q), vk = TOps.Broadcast(k);
        bool masked = relu is not null;
        ReluAfter kept = relu.GetValueOrDefault();
        TVec scale = TOps.Broadcast(kept.Scale), shift = TOps.Broadcast(kept.Shift);
        int w = TOps.Count, i = 0;
        for (; i + w <= n; i += w)
        {
            TVec xi = TOps.Load(ref Unsafe.Add(ref x, i)), gradient = TOps.Load(ref Unsafe.Add(ref dy, i));
            if (masked) gradient = Masked<TOps, TVec>(gradient, xi, scale, shift);
            TVec shifted = TOps.Add(TOps.Multiply(xi, vp), vq);
            TOps.Store(TOps.Add(TOps.Multiply(gradient, vk), shifted), ref Unsafe.Add(ref dx, i));
        }
        for (; i < n; i++)
        {
            float xi = Unsafe.Add(ref x, i), gradient = masked ? Masked(Unsafe.Add(ref dy, i), xi, kept) : Unsafe.Add(ref dy, i);
            Unsafe.Add(ref dx, i) = gradient * k + (xi * p + q);
        }
    }
}
