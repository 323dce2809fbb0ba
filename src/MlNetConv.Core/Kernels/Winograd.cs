using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// 3×3 stride-1 cross-correlation of one image by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2016): the
/// fast path of Conv2D's forward pass, and further down of its weight gradient (by F(3×3, 2×2)) and input gradient (by
/// F(2×2, 3×3) run backwards), both from one transform of the output gradient. A tile of 2×2 outputs comes from a 4×4
/// input block d and a 3×3 kernel g as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. Summed over channels, the product at each of the 16 points ξ of a
/// transformed tile is a matrix product,
///   M_ξ (T × K) = V_ξ (T × C) · U_ξ (C × K),   V = Bᵀ d B per tile and channel,   U = G g Gᵀ per channel and filter,
/// so an image costs 16·T·C·K multiply-adds where the direct convolution costs 4T·9·C·K: 2.25× fewer. Channels are kept
/// innermost (padded to whole registers, <see cref="WinogradTiles"/>), so both transforms work a register of channels
/// at a time and every product is a full-width matrix product. The direct path (<see cref="Conv2DKernels"/>) stays the
/// reference and the fallback; tests hold the two equal within float rounding on every SIMD width.
/// <code>
///   G = | 1    0    0  |    Bᵀ = | 1  0 −1  0 |    Aᵀ = | 1  1  1  0 |
///       | ½    ½    ½  |         | 0  1  1  0 |         | 0  1 −1 −1 |
///       | ½   −½    ½  |         | 0 −1  1  0 |
///       | 0    0    1  |         | 0  1  0 −1 |
/// </code>
/// </summary>
internal static class Winograd
{
    /// <summary>
    /// U ← G g Gᵀ for weights (K, C, 3, 3), laid out (16, padded C, padded K) as the forward pass reads them; with
    /// <paramref name="forInputGradient"/>, W ← G' g G'ᵀ laid out (16, padded K, padded C) as <see cref="InputGradient"/>
    /// reads them, G' = diag(1, 2, 2, −1)·G (see there). <paramref name="u"/> holds the tiling's
    /// <see cref="WinogradTiles.KernelSize"/>; <paramref name="scratch"/> holds <see cref="WinogradTiles.KernelScratchSize"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformKernels(ReadOnlySpan<float> weights, Span<float> u, Span<float> scratch, in WinogradTiles tiles, bool forInputGradient,
        SimdWidth width = 0)
    {
        int filters = tiles.Outputs, inputs = tiles.Channels;
        if (weights.Length != filters * inputs * 9 || u.Length != tiles.KernelSize || scratch.Length < tiles.KernelScratchSize)
            throw new ArgumentException($"Weights of {weights.Length}, transformed kernels of {u.Length} and scratch of {scratch.Length} floats do not fit {filters} filters over {inputs} channels.");
        // Each (row of the point matrices, kernel tap) as a line over their contiguous index, zero past the real ones: the
        // 9 taps of (k, c) at scratch[(row·9 + tap)·padded + column], so the transform runs a register of kernels at a time.
        int rows = forInputGradient ? filters : inputs, padded = forInputGradient ? tiles.PaddedChannels : tiles.PaddedOutputs;
        Span<float> taps = scratch[..tiles.KernelScratchSize];
        taps.Clear();
        u.Clear();
        if (forInputGradient)
            for (int k = 0; k < filters; k++) // row k: the taps of (k, c) over c
                Transpose.Matrix(weights.Slice(k * inputs * 9, inputs * 9), inputs, 9, 9, taps.Slice(k * 9 * padded, 9 * padded), padded);
        else // row c: the taps of (k, c) over k
            Transpose.Matrix(weights, filters, inputs * 9, inputs * 9, taps, padded);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: TransformKernels<Float512, Vector512<float>>(taps, u, rows, padded, tiles.KernelPointStride, forInputGradient); break;
            case SimdWidth.Vector256: TransformKernels<Float256, Vector256<float>>(taps, u, rows, padded, tiles.KernelPointStride, forInputGradient); break;
            case SimdWidth.Vector128: TransformKernels<Float128, Vector128<float>>(taps, u, rows, padded, tiles.KernelPointStride, forInputGradient); break;
            default: TransformKernels<Float1, float>(taps, u, rows, padded, tiles.KernelPointStride, forInputGradient); break;
        }
    }

    // The rows, a register of columns at a time: t = G g (4×3), then U = t Gᵀ (4×4), point (i, j) at u[(4i + j)·stride].
    // G' = diag(1, 2, 2, −1)·G has ones for G's halves and a negated last row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformKernels<TOps, TVec>(ReadOnlySpan<float> taps, Span<float> u, int rows, int padded, int stride, bool scaled)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec half = TOps.Broadcast(scaled ? 1f : 0.5f), last = TOps.Broadcast(scaled ? -1f : 1f);
        ref float source = ref MemoryMarshal.GetReference(taps);
        ref float target = ref MemoryMarshal.GetReference(u);
        for (int row = 0; row < rows; row++)
            for (int column = 0; column < padded; column += TOps.Count)
            {
                ref float g = ref Unsafe.Add(ref source, row * 9 * padded + column);
                TVec g0 = TOps.Load(ref g), g1 = TOps.Load(ref Unsafe.Add(ref g, padded)), g2 = TOps.Load(ref Unsafe.Add(ref g, 2 * padded));
                TVec g3 = TOps.Load(ref Unsafe.Add(ref g, 3 * padded)), g4 = TOps.Load(ref Unsafe.Add(ref g, 4 * padded)), g5 = TOps.Load(ref Unsafe.Add(ref g, 5 * padded));
                TVec g6 = TOps.Load(ref Unsafe.Add(ref g, 6 * padded)), g7 = TOps.Load(ref Unsafe.Add(ref g, 7 * padded)), g8 = TOps.Load(ref Unsafe.Add(ref g, 8 * padded));
                ref float at = ref Unsafe.Add(ref target, row * padded + column);
                Expand(g0, g1, g2, half, last, ref at, stride);
                Expand(TOps.Multiply(half, TOps.Add(TOps.Add(g0, g3), g6)), TOps.Multiply(half, TOps.Add(TOps.Add(g1, g4), g7)),
                    TOps.Multiply(half, TOps.Add(TOps.Add(g2, g5), g8)), half, last, ref Unsafe.Add(ref at, 4 * stride), stride);
                Expand(TOps.Multiply(half, TOps.Add(TOps.Subtract(g0, g3), g6)), TOps.Multiply(half, TOps.Add(TOps.Subtract(g1, g4), g7)),
                    TOps.Multiply(half, TOps.Add(TOps.Subtract(g2, g5), g8)), half, last, ref Unsafe.Add(ref at, 8 * stride), stride);
                Expand(TOps.Multiply(last, g6), TOps.Multiply(last, g7), TOps.Multiply(last, g8), half, last, ref Unsafe.Add(ref at, 12 * stride), stride);
            }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Expand(TVec t0, TVec t1, TVec t2, TVec half, TVec last, ref float target, int stride)
        {
            TOps.Store(t0, ref target);
            TOps.Store(TOps.Multiply(half, TOps.Add(TOps.Add(t0, t1), t2)), ref Unsafe.Add(ref target, stride));
            TOps.Store(TOps.Multiply(half, TOps.Add(TOps.Subtract(t0, t1), t2)), ref Unsafe.Add(ref target, 2 * stride));
            TOps.Store(TOps.Multiply(last, t2), ref Unsafe.Add(ref target, 3 * stride));
        }
    }

    /// <summary>
    /// V (16, tiles, padded channels) ← Bᵀ d B for every 4×4 block d of x (Channels, H, W) the tiles read. For a group of
    /// <paramref name="images"/> images V is (16, images, tiles, padded channels), and this is image <paramref name="image"/>'s
    /// share of it: each point's rows of the group lie together, so <see cref="MultiplyPoint"/> takes them in one product.
    /// </summary>
    public static void TransformInput(ReadOnlySpan<float> x, Span<float> v, Span<float> scratch, in WinogradTiles tiles, SimdWidth width = 0,
        int image = 0, int images = 1)
    {
        Check(x.Length, tiles.Channels * tiles.Height * tiles.Width, "x");
        CheckGroup(image, images);
        Check(v.Length, images * tiles.InputTransformSize, "V");
        Check(scratch.Length, tiles.PaddedInputSize, "scratch");
        Span<float> padded = scratch[..tiles.PaddedInputSize];
        Pad(x, tiles.Channels, tiles.Height, tiles.Width, padded, tiles.PaddedHeight, tiles.PaddedWidth, tiles.PadTop, tiles.PadLeft, tiles.PaddedChannels);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: TransformInput<Float512, Vector512<float>>(padded, v, tiles, image, images); break;
            case SimdWidth.Vector256: TransformInput<Float256, Vector256<float>>(padded, v, tiles, image, images); break;
            case SimdWidth.Vector128: TransformInput<Float128, Vector128<float>>(padded, v, tiles, image, images); break;
            default: TransformInput<Float1, float>(padded, v, tiles, image, images); break;
        }
    }

    /// <summary>
    /// M_ξ (images·tiles × padded outputs, in <paramref name="scratch"/>) ← V_ξ·U_ξ for the one point ξ, over a group of
    /// <paramref name="images"/> images (<see cref="TransformInput"/>) at once: over 8×8 images a point's product is 16
    /// rows for one image, two blocks of the product's rows, 64 for four. Each row's sums are its own, so the same bits.
    /// </summary>
    public static void MultiplyPoint(ReadOnlySpan<float> v, ReadOnlySpan<float> u, Span<float> scratch, in WinogradTiles tiles, int point,
        SimdWidth width = 0, int images = 1)
    {
        CheckGroup(0, images);
        Check(v.Length, images * tiles.InputTransformSize, "V");
        Check(u.Length, tiles.KernelSize, "U");
        Check(scratch.Length, tiles.GroupScratchSize(images), "scratch");
        int t = images * tiles.Tiles, c = tiles.PaddedChannels, k = tiles.PaddedOutputs;
        Gemm.MultiplyNN(t, k, c, v.Slice(point * t * c, t * c), c, u.Slice(point * tiles.KernelPointStride, c * k), k,
            scratch.Slice(tiles.PaddedInputSize + point * t * k, t * k), k, accumulate: false, width);
    }

    /// <summary>The rows of tiles <see cref="FinishOutput"/> takes: the tile rows, or with pooling the pooled rows.</summary>
    public static int OutputRows(in WinogradTiles tiles, bool pool) => pool ? tiles.OutputHeight / 2 : tiles.TileRows;

    /// <summary>
    /// Tile rows [first, end) (pooled rows with <paramref name="pool"/>) of image <paramref name="image"/> of the group's
    /// y (Outputs, OH, OW), once <see cref="MultiplyPoint"/> has made every point's M in <paramref name="scratch"/>: the
    /// correlation whose transformed input is V (<see cref="TransformInput"/>) with the kernels U
    /// (<see cref="TransformKernels"/>), plus <paramref name="bias"/> per output channel when given; with
    /// <paramref name="rectify"/>, then max(·, 0) as <see cref="Activations.Relu"/> takes it (NaN kept), bit for bit,
    /// inside the output transform instead of one more pass over y. With <paramref name="pool"/>, y is instead
    /// (Outputs, ⌊OH/2⌋, ⌊OW/2⌋), the 2×2 max-pooling at stride 2 of that output as <see cref="Pooling2DKernels.MaxForward"/>
    /// takes it, bit for bit: a tile's four outputs are a pooling window, so the full output is never stored. A share
    /// that any split of the rows computes to the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FinishOutput(ReadOnlySpan<float> bias, Span<float> y, Span<float> scratch, in WinogradTiles tiles,
        int first, int end, SimdWidth width = 0, bool rectify = false, bool pool = false, int image = 0, int images = 1)
    {
        int oh = tiles.OutputHeight, ow = tiles.OutputWidth;
        int outputArea = pool ? oh / 2 * (ow / 2) : oh * ow, k = tiles.PaddedOutputs;
        Check(y.Length, tiles.Outputs * outputArea, "y");
        CheckGroup(image, images);
        Check(scratch.Length, tiles.GroupScratchSize(images), "scratch");
        if (!bias.IsEmpty) Check(bias.Length, tiles.Outputs, "bias");
        if ((uint)first > (uint)end || end > OutputRows(tiles, pool))
            throw new ArgumentOutOfRangeException(nameof(end), $"Rows [{first}, {end}) are not rows of the {OutputRows(tiles, pool)} the tiling has.");
        // Rows of one image may finish on several threads at once: they share M and write their own rows of the output.
        // The group's M is (16, images, tiles, padded outputs): this image's tiles from its place, a point's apart.
        ReadOnlySpan<float> m = scratch.Slice(tiles.PaddedInputSize + image * tiles.Tiles * k, images * tiles.GradientTransformSize - image * tiles.Tiles * k);
        Span<float> output = scratch.Slice(tiles.PaddedInputSize + images * tiles.GradientTransformSize, oh * ow * k);
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: TransformOutput<Float512, Vector512<float>>(m, bias, output, tiles, first, end, rectify, pool, images); break;
            case SimdWidth.Vector256: TransformOutput<Float256, Vector256<float>>(m, bias, output, tiles, first, end, rectify, pool, images); break;
            case SimdWidth.Vector128: TransformOutput<Float128, Vector128<float>>(m, bias, output, tiles, first, end, rectify, pool, images); break;
            default: TransformOutput<Float1, float>(m, bias, output, tiles, first, end, rectify, pool, images); break;
        }
        // The rows' outputs, (rows, columns, padded outputs), to y's columns: output row r at y[r·columns].
        int columns = pool ? ow / 2 : ow;
        int firstRow = pool ? first : 2 * first, endRow = pool ? end : Math.Min(2 * end, oh);
        Transpose.Matrix(output[(firstRow * columns * k)..], (endRow - firstRow) * columns, tiles.Outputs, k, y[(firstRow * columns)..], outputArea);
    }

    // ---- The weight gradient, dW[k, c, r, s] = Σ_tiles Σ_a,b dY[k, 2ty + a, 2tx + b]·d_c[a + r, b + s]: per tile a 2×2
    // block of dY correlated with the 4×4 input block gives the 3×3 kernel gradient, Winograd's F(3×3, 2×2):
    //   dW = Aᵀ[(G g Gᵀ) ⊙ (B'ᵀ d B')]A,   G = |1 0; ½ ½; ½ −½; 0 1|,   Aᵀ = |1 1 1 0; 0 1 −1 0; 0 1 1 1|,
    // where B'ᵀ is the forward's Bᵀ with its last row negated: the forward's V serves, the sign folded into the last step.
    // Summed over tiles and images in the transformed domain, each point is a matrix product Z_ξ (C × K) = V_ξᵀ·Ĝ_ξ.

    /// <summary>
    /// Ĝ (16, tiles, padded outputs) ← G g Gᵀ for every 2×2 block g of dY (Outputs, OH, OW), zeros past its edge, by way
    /// of <paramref name="plane"/> (<see cref="WinogradTiles.OutputGradientPlaneSize"/> floats), where dY is moved once.
    /// Ĝ serves the weight gradient (<see cref="AccumulateWeightGradient"/>) and the input gradient (<see cref="InputGradient"/>).
    /// </summary>
    public static void TransformOutputGradient(ReadOnlySpan<float> dy, Span<float> gradient, Span<float> plane, in WinogradTiles tiles, SimdWidth width = 0)
    {
        Check(dy.Length, tiles.Outputs * tiles.OutputHeight * tiles.OutputWidth, "dY");
        Check(gradient.Length, tiles.GradientTransformSize, "Ĝ");
        Check(plane.Length, tiles.OutputGradientPlaneSize, "dY plane");
        int planeHeight = 2 * tiles.TileRows, planeWidth = 2 * tiles.TileColumns;
        Pad(dy, tiles.Outputs, tiles.OutputHeight, tiles.OutputWidth, plane, planeHeight, planeWidth, 0, 0, tiles.PaddedOutputs);
        int row = planeWidth * tiles.PaddedOutputs;
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: TransformOutputGradient<Float512, Vector512<float>>(plane, row, gradient, tiles); break;
            case SimdWidth.Vector256: TransformOutputGradient<Float256, Vector256<float>>(plane, row, gradient, tiles); break;
            case SimdWidth.Vector128: TransformOutputGradient<Float128, Vector128<float>>(plane, row, gradient, tiles); break;
            default: TransformOutputGradient<Float1, float>(plane, row, gradient, tiles); break;
        }
    }

    /// <summary>
    /// Rows [first, end) of Z_ξ (padded channels × padded outputs, at <paramref name="point"/>·<see cref="WinogradTiles.KernelPointStride"/>
    /// in z) ← V_ξᵀ·Ĝ_ξ of one image (image <paramref name="image"/> of a group's V), or += with <paramref name="accumulate"/>:
    /// an image's share of one point.
    /// </summary>
    public static void AccumulateWeightGradient(ReadOnlySpan<float> v, ReadOnlySpan<float> gradient, Span<float> z, int point,
        int first, int end, bool accumulate, in WinogradTiles tiles, SimdWidth width = 0, int image = 0, int images = 1)
    {
        CheckGroup(image, images);
        Check(v.Length, images * tiles.InputTransformSize, "V");
        Check(gradient.Length, tiles.GradientTransformSize, "Ĝ");
        Check(z.Length, tiles.KernelSize, "Z");
        int t = tiles.Tiles, c = tiles.PaddedChannels, k = tiles.PaddedOutputs;
        Gemm.MultiplyTN(end - first, k, t, v[((point * images + image) * t * c + first)..], c, gradient.Slice(point * t * k, t * k), k,
            z[(point * tiles.KernelPointStride + first * k)..], k, accumulate, width);
    }

    /// <summary>dW[k, c] for every filter k of one channel ← Aᵀ Z'[c, k] A, Z' being Z with the sign of B'.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FinishWeightGradient(ReadOnlySpan<float> z, Span<float> dWeights, int channel, in WinogradTiles tiles)
    {
        Check(z.Length, tiles.KernelSize, "Z");
        Check(dWeights.Length, tiles.Outputs * tiles.Channels * 9, "dW");
        int stride = tiles.KernelPointStride;
        Span<float> q = stackalloc float[12];
        for (int k = 0; k < tiles.Outputs; k++)
        {
            int at = channel * tiles.PaddedOutputs + k;
            // Aᵀ Z' (3×4): rows z0 + z1 + z2, z1 − z2, z1 + z2 − z3 (the last row of Z' is −z3), column by column,
            // each column j ≠ 3 as is and column 3 negated.
            for (int j = 0; j < 4; j++)
            {
                float sign = j == 3 ? -1f : 1f;
                float z0 = z[j * stride + at], z1 = z[(4 + j) * stride + at], z2 = z[(8 + j) * stride + at], z3 = z[(12 + j) * stride + at];
                q[j] = sign * (z0 + z1 + z2);
                q[4 + j] = sign * (z1 - z2);
                q[8 + j] = sign * (z1 + z2 - z3);
            }
            Span<float> kernel = dWeights.Slice((k * tiles.Channels + channel) * 9, 9);
            for (int i = 0; i < 3; i++)
            {
                float q0 = q[4 * i], q1 = q[4 * i + 1], q2 = q[4 * i + 2], q3 = q[4 * i + 3];
                kernel[3 * i] = q0 + q1 + q2;
                kernel[3 * i + 1] = q1 - q2;
                kernel[3 * i + 2] = q1 + q2 + q3;
            }
        }
    }

    // ---- The input gradient, F(2×2, 3×3) run backwards: Y = Aᵀ M A with M = Σ_c U ⊙ V and V = Bᵀ d B give
    //   dM = A dY Aᵀ,   dV_c = Σ_k U_kc ⊙ dM_k,   dd = B dV Bᵀ,
    // and dX is the sum of every tile's dd over the 4×4 block it read. A = diag(1, 2, 2, −1)·G with the weight gradient's
    // G (rows 1, ½ ½, ½ −½, 1 of Aᵀ), so dM_ξ is Ĝ_ξ scaled by D_i·D_j, a scale folded into the kernels:
    //   dV_ξ (T × C) = Ĝ_ξ (T × K) · W_ξ (K × C),   W = G' g G'ᵀ,   G' = diag(1, 2, 2, −1)·G,
    // one product per point from the Ĝ the weight gradient already made, and no transform of dY of its own.
    //   B = | 1  0  0  0 |
    //       | 0  1 −1  1 |
    //       |−1  1  1  0 |
    //       | 0  0  0 −1 |

    /// <summary>
    /// dX (Channels, H, W) ← the input gradient of one image from its Ĝ (<see cref="TransformOutputGradient"/>) and the
    /// kernels W (<see cref="TransformKernels"/> with forInputGradient). <paramref name="scratch"/> holds
    /// <see cref="WinogradTiles.InputGradientScratchSize"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient(ReadOnlySpan<float> gradient, ReadOnlySpan<float> w, Span<float> dx, Span<float> scratch, in WinogradTiles tiles,
        SimdWidth width = 0)
    {
        Check(gradient.Length, tiles.GradientTransformSize, "Ĝ");
        Check(w.Length, tiles.KernelSize, "W");
        Check(dx.Length, tiles.Channels * tiles.Height * tiles.Width, "dX");
        Check(scratch.Length, tiles.InputGradientScratchSize, "scratch");
        int t = tiles.Tiles, c = tiles.PaddedChannels, k = tiles.PaddedOutputs;
        Span<float> dv = scratch[..tiles.InputTransformSize];
        Span<float> plane = scratch.Slice(dv.Length, tiles.PaddedInputSize);
        for (int point = 0; point < WinogradTiles.Points; point++)
            Gemm.MultiplyNN(t, c, k, gradient.Slice(point * t * k, t * k), k, w.Slice(point * tiles.KernelPointStride, k * c), c,
                dv.Slice(point * t * c, t * c), c, accumulate: false, width);
        plane.Clear();
        switch (width == 0 ? Simd.Best : width)
        {
            case SimdWidth.Vector512: AddInputBlocks<Float512, Vector512<float>>(dv, plane, tiles); break;
            case SimdWidth.Vector256: AddInputBlocks<Float256, Vector256<float>>(dv, plane, tiles); break;
            case SimdWidth.Vector128: AddInputBlocks<Float128, Vector128<float>>(dv, plane, tiles); break;
            default: AddInputBlocks<Float1, float>(dv, plane, tiles); break;
        }
        // The plane's input rows and columns back to (Channels, H, W); input the tiles never read gets no gradient.
        int h = tiles.Height, wide = tiles.Width;
        int rows = Math.Min(h, tiles.PaddedHeight - tiles.PadTop), columns = Math.Min(wide, tiles.PaddedWidth - tiles.PadLeft);
        if (rows < h || columns < wide) dx[..(tiles.Channels * h * wide)].Clear();
        for (int row = 0; row < rows; row++)
            Transpose.Matrix(plane[(((row + tiles.PadTop) * tiles.PaddedWidth + tiles.PadLeft) * c)..], columns, tiles.Channels, c, dx[(row * wide)..], h * wide);
    }

    // The plane (padded height, padded width, padded channels) += B dV Bᵀ of every tile at the 4×4 block it read, a
    // register of channels at a time; tiles overlap by two rows and columns, and add in tile order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInputBlocks<TOps, TVec>(ReadOnlySpan<float> dv, Span<float> plane, in WinogradTiles tiles)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int channels = tiles.PaddedChannels, line = tiles.PaddedWidth * channels;
        nint point = (nint)tiles.Tiles * channels;
        ref float source = ref MemoryMarshal.GetReference(dv);
        ref float target = ref MemoryMarshal.GetReference(plane);
        for (int ty = 0, tile = 0; ty < tiles.TileRows; ty++)
            for (int tx = 0; tx < tiles.TileColumns; tx++, tile++)
                for (int channel = 0; channel < channels; channel += TOps.Count)
                {
                    ref float p = ref Unsafe.Add(ref source, tile * channels + channel);
                    // B applied to each row of dV (points 4i … 4i + 3), then to each column of the result.
                    Rows(ref p, 0, point, out TVec a00, out TVec a01, out TVec a02, out TVec a03);
                    Rows(ref p, 4, point, out TVec a10, out TVec a11, out TVec a12, out TVec a13);
                    Rows(ref p, 8, point, out TVec a20, out TVec a21, out TVec a22, out TVec a23);
                    Rows(ref p, 12, point, out TVec a30, out TVec a31, out TVec a32, out TVec a33);
                    ref float block = ref Unsafe.Add(ref target, 2 * ty * line + 2 * tx * channels + channel);
                    AddColumn(a00, a10, a20, a30, ref block, line);
                    AddColumn(a01, a11, a21, a31, ref Unsafe.Add(ref block, channels), line);
                    AddColumn(a02, a12, a22, a32, ref Unsafe.Add(ref block, 2 * channels), line);
                    AddColumn(a03, a13, a23, a33, ref Unsafe.Add(ref block, 3 * channels), line);
                }

        // B·(x0, x1, x2, x3) = (x0, x1 − x2 + x3, x1 + x2 − x0, −x3), x the row's four points.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Rows(ref float p, int first, nint point, out TVec y0, out TVec y1, out TVec y2, out TVec y3)
        {
            TVec x0 = TOps.Load(ref Unsafe.Add(ref p, first * point)), x1 = TOps.Load(ref Unsafe.Add(ref p, (first + 1) * point));
            TVec x2 = TOps.Load(ref Unsafe.Add(ref p, (first + 2) * point)), x3 = TOps.Load(ref Unsafe.Add(ref p, (first + 3) * point));
            y0 = x0;
            y1 = TOps.Add(TOps.Subtract(x1, x2), x3);
            y2 = TOps.Subtract(TOps.Add(x1, x2), x0);
            y3 = TOps.Subtract(TOps.Zero, x3);
        }

        // The same down a column, added into the block's four rows.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void AddColumn(TVec x0, TVec x1, TVec x2, TVec x3, ref float top, int line)
        {
            Add(x0, ref top);
            Add(TOps.Add(TOps.Subtract(x1, x2), x3), ref Unsafe.Add(ref top, line));
            Add(TOps.Subtract(TOps.Add(x1, x2), x0), ref Unsafe.Add(ref top, 2 * line));
            Add(TOps.Subtract(TOps.Zero, x3), ref Unsafe.Add(ref top, 3 * line));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add(TVec value, ref float target) => TOps.Store(TOps.Add(TOps.Load(ref target), value), ref target);
    }

    private static void CheckGroup(int image, int images)
    {
        if (images < 1 || (uint)image >= (uint)images)
            throw new ArgumentOutOfRangeException(nameof(image), $"Image {image} is not one of a group of {images}.");
    }

    private static void Check(int length, int needed, string what)
    {
        if (length < needed) throw new ArgumentException($"The Winograd {what} span holds {length} floats; the tiling needs {needed}.");
    }

    // x (channels, height, width) → a zero-padded plane (plane height, plane width, padded channels) with x's (0, 0) at
    // (padTop, padLeft): each row's (channels × width) slab transposed into place; what falls past the plane is left out.
    // Only what the transposes do not write is cleared: the border, or everything when channels are padded (each pixel's
    // padding lanes), instead of the whole plane before writing most of it again.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pad(ReadOnlySpan<float> x, int channels, int height, int width, Span<float> plane, int planeHeight, int planeWidth,
        int padTop, int padLeft, int paddedChannels)
    {
        int rows = Math.Min(height, planeHeight - padTop), columns = Math.Min(width, planeWidth - padLeft);
        int line = planeWidth * paddedChannels;
        if (channels < paddedChannels)
            plane[..(planeHeight * line)].Clear();
        else
        {
            plane[..(padTop * line)].Clear();
            plane[((padTop + rows) * line)..(planeHeight * line)].Clear();
            for (int row = padTop; row < padTop + rows; row++)
            {
                plane.Slice(row * line, padLeft * paddedChannels).Clear();
                plane[(row * line + (padLeft + columns) * paddedChannels)..((row + 1) * line)].Clear();
            }
        }
        for (int row = 0; row < rows; row++)
            Transpose.Matrix(x[(row * width)..], channels, columns, height * width, plane[(((row + padTop) * planeWidth + padLeft) * paddedChannels)..], paddedChannels);
    }

    // V ← Bᵀ d B for every tile, a register of channels at a time; point ξ = 4i + j of tile t at v[(ξ·T + t)·C].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInput<TOps, TVec>(ReadOnlySpan<float> padded, Span<float> v, in WinogradTiles tiles, int image, int images)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int channels = tiles.PaddedChannels, line = tiles.PaddedWidth * channels;
        nint point = (nint)images * tiles.Tiles * channels;
        ref float source = ref MemoryMarshal.GetReference(padded);
        ref float target = ref Unsafe.Add(ref MemoryMarshal.GetReference(v), image * tiles.Tiles * channels);
        for (int ty = 0, tile = 0; ty < tiles.TileRows; ty++)
            for (int tx = 0; tx < tiles.TileColumns; tx++, tile++)
                for (int channel = 0; channel < channels; channel += TOps.Count)
                {
                    ref float r0 = ref Unsafe.Add(ref source, 2 * ty * line + 2 * tx * channels + channel);
                    ref float r1 = ref Unsafe.Add(ref r0, line);
                    ref float r2 = ref Unsafe.Add(ref r1, line);
                    ref float r3 = ref Unsafe.Add(ref r2, line);
                    ref float out0 = ref Unsafe.Add(ref target, tile * channels + channel);
                    // Bᵀ d: rows r0 − r2, r1 + r2, r2 − r1, r1 − r3; then the same combination of each row's four columns.
                    Columns<TOps, TVec>(ref r0, ref r2, channels, subtract: true, ref out0, point);
                    Columns<TOps, TVec>(ref r1, ref r2, channels, subtract: false, ref Unsafe.Add(ref out0, 4 * point), point);
                    Columns<TOps, TVec>(ref r2, ref r1, channels, subtract: true, ref Unsafe.Add(ref out0, 8 * point), point);
                    Columns<TOps, TVec>(ref r1, ref r3, channels, subtract: true, ref Unsafe.Add(ref out0, 12 * point), point);
                }
    }

    // One row of Bᵀ d (a ± b, four columns apart by `step`) times B: columns e0 − e2, e1 + e2, e2 − e1, e1 − e3.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns<TOps, TVec>(ref float a, ref float b, int step, bool subtract, ref float target, nint point)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        TVec a0 = TOps.Load(ref a), a1 = TOps.Load(ref Unsafe.Add(ref a, step)), a2 = TOps.Load(ref Unsafe.Add(ref a, 2 * step)), a3 = TOps.Load(ref Unsafe.Add(ref a, 3 * step));
        TVec b0 = TOps.Load(ref b), b1 = TOps.Load(ref Unsafe.Add(ref b, step)), b2 = TOps.Load(ref Unsafe.Add(ref b, 2 * step)), b3 = TOps.Load(ref Unsafe.Add(ref b, 3 * step));
        TVec e0 = subtract ? TOps.Subtract(a0, b0) : TOps.Add(a0, b0), e1 = subtract ? TOps.Subtract(a1, b1) : TOps.Add(a1, b1);
        TVec e2 = subtract ? TOps.Subtract(a2, b2) : TOps.Add(a2, b2), e3 = subtract ? TOps.Subtract(a3, b3) : TOps.Add(a3, b3);
        TOps.Store(TOps.Subtract(e0, e2), ref target);
        TOps.Store(TOps.Add(e1, e2), ref Unsafe.Add(ref target, point));
        TOps.Store(TOps.Subtract(e2, e1), ref Unsafe.Add(ref target, 2 * point));
        TOps.Store(TOps.Subtract(e1, e3), ref Unsafe.Add(ref target, 3 * point));
    }

    // output (OH, OW, padded outputs) ← Aᵀ m A + bias for the tiles of rows [first, end) (then max(·, 0) with rectify),
    // a register of outputs at a time, keeping only the outputs inside OH × OW; with pool, output (⌊OH/2⌋, ⌊OW/2⌋,
    // padded outputs) ← the maximum of each whole tile's four, the tiles past them left out as max-pooling leaves them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutput<TOps, TVec>(ReadOnlySpan<float> m, ReadOnlySpan<float> bias, Span<float> output, in WinogradTiles tiles,
        int first, int end, bool rectify, bool pool, int images)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int outputs = tiles.PaddedOutputs, oh = tiles.OutputHeight, ow = tiles.OutputWidth;
        int columns = pool ? ow / 2 : tiles.TileColumns;
        nint point = (nint)images * tiles.Tiles * outputs;
        ref float source = ref MemoryMarshal.GetReference(m);
        ref float target = ref MemoryMarshal.GetReference(output);
        ref float biases = ref MemoryMarshal.GetReference(bias);
        // The bias (K or none) in whole registers, then its last lanes and zeros, then zeros for the padded outputs.
        int wholeBias = bias.Length / TOps.Count * TOps.Count;
        Span<float> lastLanes = stackalloc float[16];
        lastLanes.Clear();
        bias[wholeBias..].CopyTo(lastLanes);
        TVec lastBias = TOps.Load(ref MemoryMarshal.GetReference(lastLanes));
        for (int ty = first; ty < end; ty++)
            for (int tx = 0; tx < columns; tx++)
            {
                int oy = 2 * ty, ox = 2 * tx, tile = ty * tiles.TileColumns + tx;
                bool right = ox + 1 < ow, below = oy + 1 < oh;
                for (int k = 0; k < outputs; k += TOps.Count)
                {
                    ref float p = ref Unsafe.Add(ref source, tile * outputs + k);
                    TVec b = k < wholeBias ? TOps.Load(ref Unsafe.Add(ref biases, k)) : k == wholeBias ? lastBias : TOps.Zero;
                    // Aᵀ m: rows m0 + m1 + m2 and m1 − m2 − m3, column by column; then the same of the columns.
                    TVec s0 = Sum3(ref p, 0, 4, 8, point), s1 = Sum3(ref p, 1, 5, 9, point), s2 = Sum3(ref p, 2, 6, 10, point), s3 = Sum3(ref p, 3, 7, 11, point);
                    TVec topLeft = Out(TOps.Add(TOps.Add(TOps.Add(s0, s1), s2), b), rectify);
                    TVec topRight = Out(TOps.Add(TOps.Subtract(TOps.Subtract(s1, s2), s3), b), rectify);
                    TVec bottomLeft = default, bottomRight = default;
                    if (below)
                    {
                        TVec d0 = Difference3(ref p, 4, 8, 12, point), d1 = Difference3(ref p, 5, 9, 13, point), d2 = Difference3(ref p, 6, 10, 14, point), d3 = Difference3(ref p, 7, 11, 15, point);
                        bottomLeft = Out(TOps.Add(TOps.Add(TOps.Add(d0, d1), d2), b), rectify);
                        bottomRight = Out(TOps.Add(TOps.Subtract(TOps.Subtract(d1, d2), d3), b), rectify);
                    }
                    if (pool)
                    {
                        TOps.Store(Pooling2DKernels.WindowMax<TOps, TVec>(topLeft, topRight, bottomLeft, bottomRight), ref Unsafe.Add(ref target, (ty * columns + tx) * outputs + k));
                        continue;
                    }
                    ref float top = ref Unsafe.Add(ref target, (oy * ow + ox) * outputs + k);
                    TOps.Store(topLeft, ref top);
                    if (right) TOps.Store(topRight, ref Unsafe.Add(ref top, outputs));
                    if (!below) continue;
                    TOps.Store(bottomLeft, ref Unsafe.Add(ref top, ow * outputs));
                    if (right) TOps.Store(bottomRight, ref Unsafe.Add(ref top, (ow + 1) * outputs));
                }
            }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TVec Out(TVec x, bool rectify) => rectify ? Activations.Rectified<TOps, TVec>(x) : x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TVec Sum3(ref float p, int a, int b, int c, nint point) =>
            TOps.Add(TOps.Add(TOps.Load(ref Unsafe.Add(ref p, a * point)), TOps.Load(ref Unsafe.Add(ref p, b * point))), TOps.Load(ref Unsafe.Add(ref p, c * point)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TVec Difference3(ref float p, int a, int b, int c, nint point) =>
            TOps.Subtract(TOps.Subtract(TOps.Load(ref Unsafe.Add(ref p, a * point)), TOps.Load(ref Unsafe.Add(ref p, b * point))), TOps.Load(ref Unsafe.Add(ref p, c * point)));
    }
    // Ĝ ← G g Gᵀ for every tile, a register of outputs at a time, g the tile's 2×2 block of dY in the padded plane (rows
    // of `row` floats, columns of padded outputs), which holds zeros past dY's last row and column: no edge cases.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutputGradient<TOps, TVec>(ReadOnlySpan<float> dy, int row, Span<float> gradient, in WinogradTiles tiles)
        where TOps : struct, IFloatVector<TVec> where TVec : struct
    {
        int outputs = tiles.PaddedOutputs;
        nint point = (nint)tiles.Tiles * outputs;
        TVec half = TOps.Broadcast(0.5f);
        ref float source = ref MemoryMarshal.GetReference(dy);
        ref float target = ref MemoryMarshal.GetReference(gradient);
        for (int ty = 0, tile = 0; ty < tiles.TileRows; ty++)
            for (int tx = 0; tx < tiles.TileColumns; tx++, tile++)
                for (int k = 0; k < outputs; k += TOps.Count)
                {
                    ref float top = ref Unsafe.Add(ref source, 2 * ty * row + 2 * tx * outputs + k);
                    TVec g00 = TOps.Load(ref top), g01 = TOps.Load(ref Unsafe.Add(ref top, outputs));
                    TVec g10 = TOps.Load(ref Unsafe.Add(ref top, row)), g11 = TOps.Load(ref Unsafe.Add(ref top, row + outputs));
                    ref float out0 = ref Unsafe.Add(ref target, tile * outputs + k);
                    // G g: rows g0, ½(g0 + g1), ½(g0 − g1), g1; then the same of each row's two columns.
                    Expand(g00, g01, half, ref out0, point);
                    Expand(TOps.Multiply(half, TOps.Add(g00, g10)), TOps.Multiply(half, TOps.Add(g01, g11)), half, ref Unsafe.Add(ref out0, 4 * point), point);
                    Expand(TOps.Multiply(half, TOps.Subtract(g00, g10)), TOps.Multiply(half, TOps.Subtract(g01, g11)), half, ref Unsafe.Add(ref out0, 8 * point), point);
                    Expand(g10, g11, half, ref Unsafe.Add(ref out0, 12 * point), point);
                }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Expand(TVec h0, TVec h1, TVec half, ref float target, nint point)
        {
            TOps.Store(h0, ref target);
            TOps.Store(TOps.Multiply(half, TOps.Add(h0, h1)), ref Unsafe.Add(ref target, point));
            TOps.Store(TOps.Multiply(half, TOps.Subtract(h0, h1)), ref Unsafe.Add(ref target, 2 * point));
            TOps.Store(h1, ref Unsafe.Add(ref target, 3 * point));
        }
    }
}
