using System.Numerics.Tensors;
using MlNetConv.Geometry;

namespace MlNetConv.Kernels;

/// <summary>
/// Conv2D for one image as im2col + matrix products. Shapes (letters of <see cref="ConvShape"/>):
/// x (C, H, W), weights (K, C, R, S), bias (K), y (K, OH, OW), columns (C·R·S, OH·OW).
/// Forward:          y = W · unfold(x) + b                 (Y_i = B_i + Σ_j X_j ★ K_ij)
/// BackwardWeights:  dW = dY · unfold(x)ᵀ,  dB_i = Σ dY_i  (dK_ij = X_j ★ dY_i)
/// BackwardInput:    dx = fold(Wᵀ · dY)                     (dX_j = Σ_i dY_i ★full rot180(K_ij))
/// The formulas on the right are what <see cref="Reference.Conv2DReference"/> computes literally.
/// </summary>
internal static class Conv2DKernels
{
    /// <summary>y ← W·unfold(x) + b; leaves unfold(x) in <paramref name="columns"/> for the backward pass.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> columns, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea;
        Im2Col.Unfold(x, columns, shape);
        Gemm.MultiplyNN(shape.Filters, area, shape.PatchSize, weights, shape.PatchSize, columns, area, y, area, accumulate: false, width);
        if (bias.IsEmpty) return;
        for (int k = 0; k < shape.Filters; k++)
        {
            Span<float> plane = y.Slice(k * area, area);
            TensorPrimitives.Add(plane, bias[k], plane);
        }
    }

    /// <summary>dW ← dY·columnsᵀ and dB ← row sums of dY (both overwritten), from the columns Forward left.</summary>
    public static void BackwardWeights(ReadOnlySpan<float> dy, ReadOnlySpan<float> columns, Span<float> dWeights,
        Span<float> dBias, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea;
        Gemm.MultiplyNT(shape.Filters, shape.PatchSize, area, dy, area, columns, area, dWeights, shape.PatchSize, accumulate: false, width);
        for (int k = 0; k < dBias.Length; k++) dBias[k] = TensorPrimitives.Sum(dy.Slice(k * area, area));
    }

    /// <summary>dx ← fold(Wᵀ·dY), using <paramref name="columns"/> as scratch.</summary>
    public static void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weights, Span<float> dx,
        Span<float> columns, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea;
        Gemm.MultiplyTN(shape.PatchSize, area, shape.Filters, weights, shape.PatchSize, dy, area, columns, area, accumulate: false, width);
        Im2Col.Fold(columns, dx, shape);
    }
}
