using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

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

    /// <summary>y = x·scale + shift on channel c, with scale = γ/√(σ² + ε) and shift = β − μ·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int area, int c, float scale, float shift)
    {
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * area;
            Span<float> result = y.Slice(start, area);
            TensorPrimitives.Multiply(x.Slice(start, area), scale, result);
            TensorPrimitives.Add(result, shift, result);
        }
    }

    /// <summary>
    /// Channel c's backward pass given μ and 1/√(σ² + ε) of the forward pass: returns (dγ, dβ) and, unless
    /// <paramref name="dx"/> is empty, writes dx. <paramref name="batchStatistics"/>: the forward pass used the batch's own
    /// statistics (training), so they depend on x too; otherwise they were constants (inference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float DGamma, float DBeta) Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int batch, int channels,
        int area, int c, float mean, float inverseStd, float gamma, bool batchStatistics)
    {
        double sumDy = 0, sumDyX = 0;
        for (int n = 0; n < batch; n++)
        {
            int start = (n * channels + c) * area;
            sumDy += TensorPrimitives.Sum(dy.Slice(start, area));
            sumDyX += TensorPrimitives.Dot(dy.Slice(start, area), x.Slice(start, area));
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
            Span<float> d = dx.Slice(start, area);
            TensorPrimitives.Multiply(x.Slice(start, area), p, d);
            TensorPrimitives.Add(d, q, d);
            TensorPrimitives.MultiplyAdd(dy.Slice(start, area), k, d, d);
        }
        return (dGamma, dBeta);
    }
}
