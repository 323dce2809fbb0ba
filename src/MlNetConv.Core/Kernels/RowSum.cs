using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// sum[j] = Σ_n rows[n·L + j] over <c>count</c> rows of length L, in row order (the same bits wherever it runs):
/// the bias gradient dB = Σ dZ over a batch.
/// </summary>
internal static class RowSum
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sum(ReadOnlySpan<float> rows, int count, Span<float> sum)
    {
        int length = sum.Length;
        rows[..length].CopyTo(sum);
        for (int n = 1; n < count; n++) TensorPrimitives.Add(sum, rows.Slice(n * length, length), sum);
    }
}
