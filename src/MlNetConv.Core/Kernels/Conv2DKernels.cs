using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Conv2D for one image as im2col + matrix products. Shapes (letters of <see cref="ConvShape"/>):
/// x (C, H, W), weights (K, C, R, S), bias (K), y (K, OH, OW), columns (C·R·S, OH·OW).
/// ForwardFilters:   y = W · unfold(x) + b                 (Y_i = B_i + Σ_j X_j ★ K_ij)
/// BackwardWeights:  dW = dY · unfold(x)ᵀ, or its transpose dWᵀ = unfold(x) · dYᵀ; dB_i = Σ dY_i  (dK_ij = X_j ★ dY_i)
/// BackwardInput:    dx = fold(Wᵀ · dY)                     (dX_j = Σ_i dY_i ★full rot180(K_ij))
/// The formulas on the right are what <see cref="Reference.Conv2DReference"/> computes literally.
/// </summary>
internal static class Conv2DKernels
{
    /// <summary>
    /// Planes [first, end) of y ← their rows of W·columns + b, columns being unfold(x) (<see cref="Im2Col.Unfold(ReadOnlySpan{float}, Span{float}, in ConvShape, SimdWidth)"/>,
    /// which the backward pass reads again), and with <paramref name="rectify"/> then max(·, 0) as
    /// <see cref="Activations.Relu"/> takes it: all of the forward pass, or a share of it that any split of the filters
    /// computes to the same bits. The bias and the rectifier go in the product's own pass (<see cref="RowFinish"/>), with
    /// the bits of passes of their own. <paramref name="weightsTransposed"/> (optional: C·R·S × K) lets the last output
    /// positions, fewer than a register, go in the lanes of the filters (<see cref="Gemm.TakesColumnsInLanes"/>).
    /// </summary>
    public static void ForwardFilters(ReadOnlySpan<float> columns, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias,
        Span<float> y, int first, int end, in ConvShape shape, SimdWidth width = 0, bool rectify = false, ReadOnlySpan<float> weightsTransposed = default)
    {
        int area = shape.Window.OutputArea, patch = shape.PatchSize;
        Gemm.MultiplyNN(end - first, area, patch, weights[(first * patch)..], patch, columns, area, y[(first * area)..], area, accumulate: false,
            new RowFinish(bias.IsEmpty ? default : bias[first..end], rectify), width, weightsTransposed.IsEmpty ? default : weightsTransposed[first..], shape.Filters);
    }

    /// <summary>
    /// Planes [first, end) of y as <see cref="ForwardFilters"/> makes them (the rectifier too), with the same bits, from a source that makes
    /// the columns slice by slice as the product reads them (<see cref="ShiftedPlanes"/>, <see cref="PaddedImage"/>)
    /// instead of the columns written out; end − first and OH·OW as <see cref="Gemm.PacksEverything"/> needs.
    /// </summary>
    public static void ForwardFiltersFrom<TColumns>(scoped ref TColumns columns, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias,
        Span<float> y, int first, int end, in ConvShape shape, SimdWidth width = 0, bool rectify = false, ReadOnlySpan<float> weightsTransposed = default)
        where TColumns : IMatrixSource, allows ref struct
    {
        int area = shape.Window.OutputArea, patch = shape.PatchSize;
        Gemm.MultiplyNN(end - first, area, patch, weights[(first * patch)..], patch, ref columns, y[(first * area)..], area, accumulate: false,
            new RowFinish(bias.IsEmpty ? default : bias[first..end], rectify), width, weightsTransposed.IsEmpty ? default : weightsTransposed[first..], shape.Filters);
    }

    /// <summary>Planes [first, end) of <paramref name="planes"/> (K planes of <paramref name="area"/> values) += their bias, if any.</summary>
    public static void AddBias(Span<float> planes, ReadOnlySpan<float> bias, int first, int end, int area)
    {
        if (bias.IsEmpty) return;
        for (int k = first; k < end; k++)
        {
            Span<float> plane = planes.Slice(k * area, area);
            InCache.Add(plane, bias[k], plane); // a 224×224 plane is 196 KB, a larger one past 256 KB
        }
    }

    /// <summary>dB ← row sums of dY (overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardBias(ReadOnlySpan<float> dy, Span<float> dBias, in ConvShape shape)
    {
        int area = shape.Window.OutputArea;
        for (int k = 0; k < dBias.Length; k++) dBias[k] = TensorPrimitives.Sum(dy.Slice(k * area, area));
    }

    /// <summary>Rows [first, end) of dW (K, C·R·S) ← dY[first..end)·columnsᵀ, or += with <paramref name="accumulate"/>: one image's share.</summary>
    public static void BackwardWeights(ReadOnlySpan<float> dy, ReadOnlySpan<float> columns, Span<float> dWeights,
        int first, int end, bool accumulate, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea, patch = shape.PatchSize;
        Gemm.MultiplyNT(end - first, patch, area, dy[(first * area)..], area, columns, area, dWeights[(first * patch)..], patch, accumulate, width);
    }

    /// <summary>
    /// Rows [first, end) of dWᵀ (C·R·S, K) ← columns[first..end)·dYᵀ, or += with <paramref name="accumulate"/>: one
    /// image's share of the weight gradient, from the columns Forward left and dYᵀ (OH·OW, K). Transposed so the
    /// product broadcasts along the long OH·OW reduction instead of ending every output in a horizontal sum.
    /// </summary>
    public static void BackwardWeightsTransposed(ReadOnlySpan<float> columns, ReadOnlySpan<float> dyTransposed,
        Span<float> dWeightsTransposed, int first, int end, bool accumulate, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea, filters = shape.Filters;
        Gemm.MultiplyNN(end - first, filters, area, columns[(first * area)..], area, dyTransposed, filters,
            dWeightsTransposed[(first * filters)..], filters, accumulate, width);
    }

    /// <summary>dx ← fold(Wᵀ·dY), using <paramref name="columns"/> as scratch.</summary>
    public static void BackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> weights, Span<float> dx,
        Span<float> columns, in ConvShape shape, SimdWidth width = 0)
    {
        int area = shape.Window.OutputArea;
        Gemm.MultiplyTN(shape.PatchSize, area, shape.Filters, weights, shape.PatchSize, dy, area, columns, area, accumulate: false, width);
        Im2Col.Fold(columns, dx, shape, width);
    }
}
