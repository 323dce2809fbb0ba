namespace MlNetConv.Core.Kernels.Reference;

/// <summary>
/// The matrix products of <see cref="Gemm"/> as plain loops, C(i,j) = Σp A(i,p)·B(p,j) summed in ascending p:
/// the algorithmic reference the fast kernels are tested against.
/// </summary>
internal static class GemmReference
{
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[i * lda + p] * b[p * ldb + j];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
    }

    public static void MultiplyTN(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[p * lda + i] * b[p * ldb + j];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
    }

    public static void MultiplyNT(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[i * lda + p] * b[j * ldb + p];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
    }
}
