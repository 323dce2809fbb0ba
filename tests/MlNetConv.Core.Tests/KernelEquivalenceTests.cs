using System.Numerics.Tensors;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Kernels.Reference;
using MlNetConv.Core.Layers;

namespace MlNetConv.Core.Tests;

/// <summary>
/// The fast kernels against the plain references, at every register width in this one process (a width the CPU lacks
/// still runs, emulated), on size sweeps that hit every vector tail. CI also runs these with AVX-512, AVX2 and all
/// intrinsics switched off, so the widths run natively too.
/// </summary>
public class KernelEquivalenceTests
{
    public static TheoryData<SimdWidth> Widths() => new() { SimdWidth.Vector512, SimdWidth.Vector256, SimdWidth.Vector128, SimdWidth.Scalar };

    private const float Tolerance = 1e-5f;

    [Theory]
    [MemberData(nameof(Widths))]
    public void MatrixProductsMatchTheReference(SimdWidth width)
    {
        int[] sizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49];
        var random = new Random(1);
        for (int trial = 0; trial < 120; trial++)
        {
            int m = sizes[random.Next(sizes.Length)], n = sizes[random.Next(sizes.Length)], k = sizes[random.Next(sizes.Length)];
            int pad = random.Next(3); // leading dimensions wider than the matrices
            AssertMatrixProducts(m, n, k, pad, accumulate: trial % 2 == 1, seed: trial, width, Tolerance);
        }
    }

    // Long reductions over far-apart rows of B, where NN and TN copy each panel of B into a contiguous buffer before
    // the blocks of rows read it (Gemm.PacksPanels). A row alone is never packed, so it holds the packed products to
    // the unpacked bits.
    [Theory]
    [MemberData(nameof(Widths))]
    public void PackedMatrixProductsKeepTheBits(SimdWidth width)
    {
        var random = new Random(3);
        foreach (int m in (int[])[16, 21, 40])
            foreach (int n in (int[])[17, 40, 70, 129])
                // Each K here for 4 of the 12 shapes; 2,100 passes every width's slice depth (Gemm.PackedDepth: 128 to 2,048).
                AssertMatrixProducts(m, n, k: ((int[])[300, 517, 2100])[(m + n) % 3], pad: random.Next(3), accumulate: n % 2 == 0, seed: m * n, width, 1e-4f);
    }

    // The last columns of a product, fewer than a register, where A's rows lie side by side (TN): blocks of four
    // registers of rows take them in their lanes (Gemm.RaggedColumns), the rows past the last such block a masked
    // register, read in place or packed slice by slice (K = 300 over wide rows of B; 1,100 passes every width's slice
    // depth), one column or pairs of them. A row alone has the bits of the rows in lanes.
    [Theory]
    [MemberData(nameof(Widths))]
    public void ColumnsInTheRowsLanesKeepTheBits(SimdWidth width)
    {
        var random = new Random(7);
        foreach (int m in (int[])[64, 100, 128])
            foreach (int n in (int[])[17, 19, 20, 49, 100, 196])
                foreach (int k in n == 19 ? (int[])[1100] : [1, 9, 300])
                {
                    int pad = random.Next(3);
                    bool accumulate = (m + n + k) % 2 == 0;
                    AssertMatrixProducts(m, n, k, pad, accumulate, seed: m * n + k, width, 1e-4f);
                    // NN given A transposed as well (k × m, rows m + pad apart), with a bias and ReLU after: the bits of NN without it.
                    float[] a = TestData.Random(m * (k + pad), m + k), b = TestData.Random(k * (n + pad), n + k), bias = TestData.Random(m, n);
                    float[] aTransposed = new float[k * (m + pad)];
                    for (int i = 0; i < m; i++)
                        for (int p = 0; p < k; p++) aTransposed[p * (m + pad) + i] = a[i * (k + pad) + p];
                    float[] expected = TestData.Random(m * (n + pad), m), actual = expected.ToArray();
                    var finish = new RowFinish(accumulate ? default : bias, rectify: !accumulate);
                    Gemm.MultiplyNN(m, n, k, a, k + pad, b, n + pad, expected, n + pad, accumulate, finish, width);
                    Gemm.MultiplyNN(m, n, k, a, k + pad, b, n + pad, actual, n + pad, accumulate, finish, width, aTransposed, m + pad);
                    Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), $"NN with A transposed {m}×{n}×{k} pad {pad} {width}");
                }
    }

    // A convolution whose output positions end in part of a register, given its kernel transposed as well (the last
    // positions in the lanes of the filters): the bits without it, from its columns, its padded image or its shifted
    // planes, and with the filters split in blocks as threads split them at batch 1.
    [Theory]
    [MemberData(nameof(Widths))]
    public void ConvolutionsWithTheirKernelTransposedKeepTheBits(SimdWidth width)
    {
        (int C, int H, int W, int K, int Window, int Stride, Padding Padding)[] shapes =
            [(3, 14, 14, 64, 5, 1, Padding.Same), (2, 9, 9, 64, 3, 1, Padding.Valid), (4, 13, 13, 128, 3, 2, Padding.Same), (8, 7, 7, 96, 3, 1, Padding.Same)];
        foreach (var (c, h, w, filters, window, stride, padding) in shapes)
        {
            var shape = ConvShape.Create(c, h, w, filters, window, window, stride, stride, padding);
            string what = $"C{c} {h}×{w} K{filters} {window}×{window} stride {stride} {padding} {width}";
            float[] x = TestData.Random(shape.InputSize, c), weights = TestData.Random(shape.WeightCount, h), bias = TestData.Random(filters, w);
            float[] weightsTransposed = new float[shape.WeightCount];
            Transpose.Matrix(weights, filters, shape.PatchSize, shape.PatchSize, weightsTransposed, filters);
            float[] columns = new float[shape.ColumnsSize], expected = new float[shape.OutputSize], actual = new float[shape.OutputSize];
            Im2Col.Unfold(x, columns, shape, width);
            Conv2DKernels.ForwardFilters(columns, weights, bias, expected, 0, filters, shape, width, rectify: true);
            Conv2DKernels.ForwardFilters(columns, weights, bias, actual, 0, filters, shape, width, rectify: true, weightsTransposed);
            Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), "columns " + what);
            float[] blocks = new float[shape.OutputSize];
            for (int first = 0; first < filters; first += 32)
                Conv2DKernels.ForwardFilters(columns, weights, bias, blocks, first, first + 32, shape, width, rectify: true, weightsTransposed);
            Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(blocks)), "blocks of 32 filters " + what);
            if (!Gemm.PacksEverything(filters, shape.Window.OutputArea, width)) continue;
            float[] image = new float[PaddedImage.Size(shape)];
            PaddedImage.Pad(x, image, shape);
            var columnsOfImage = new PaddedImage(image, shape);
            AssertFrom(ref columnsOfImage, "padded image " + what);
            if (!ShiftedPlanes.Applies(shape)) continue;
            float[] planes = new float[ShiftedPlanes.Size(shape)];
            ShiftedPlanes.Pad(x, planes, shape);
            var columnsOfPlanes = new ShiftedPlanes(planes, shape);
            AssertFrom(ref columnsOfPlanes, "shifted planes " + what);

            void AssertFrom<TColumns>(ref TColumns source, string from) where TColumns : IMatrixSource, allows ref struct
            {
                float[] fromSource = new float[shape.OutputSize];
                Conv2DKernels.ForwardFiltersFrom(ref source, weights, bias, fromSource, 0, filters, shape, width, rectify: true, weightsTransposed);
                Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(fromSource)), from);
            }
        }
    }

    // A product that finishes its rows (a bias per row, then ReLU) has the bits of the product followed by passes of
    // their own: rows in blocks and left over, panels whole and the last one overlapping, fewer columns than a register,
    // packed or not; −0, NaN and values on both sides of zero among the results.
    [Theory]
    [MemberData(nameof(Widths))]
    public void ProductsThatFinishTheirRowsHaveTheBitsOfThePassesAfter(SimdWidth width)
    {
        var random = new Random(5);
        foreach (int m in (int[])[1, 6, 16, 21])
            foreach (int n in (int[])[3, 17, 40, 70])
                foreach (bool rectify in (bool[])[false, true])
                {
                    int k = random.Next(2) == 0 ? 7 : 300, pad = random.Next(3);
                    float[] a = TestData.Random(m * (k + pad), m + n), b = TestData.Random(k * (n + pad), m * n);
                    a[0] = float.NaN; // row 0 all NaN
                    if (m > 1) a.AsSpan((k + pad), k).Clear(); // row 1 all zeros: −0 with a negative bias is +0 after ReLU
                    float[] bias = TestData.Random(m, k), expected = TestData.Random(m * (n + pad), 1), actual = expected.ToArray();
                    bias[^1] = -0f;
                    for (bool biased = false; ; biased = true)
                    {
                        string what = $"{m}×{n}×{k} pad {pad} bias {biased} rectify {rectify} {width}";
                        Gemm.MultiplyNN(m, n, k, a, k + pad, b, n + pad, expected, n + pad, accumulate: false, width);
                        for (int i = 0; i < m; i++)
                        {
                            Span<float> row = expected.AsSpan(i * (n + pad), n);
                            if (biased) TensorPrimitives.Add(row, bias[i], row);
                            if (rectify) Activations.Relu(row);
                        }
                        Gemm.MultiplyNN(m, n, k, a, k + pad, b, n + pad, actual, n + pad, accumulate: false, new RowFinish(biased ? bias : default, rectify), width);
                        Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), what);
                        if (biased) break;
                    }
                }
    }

    // NN, TN and NT against the reference, and each row of C computed alone (a batch of one) with the bits it gets
    // among the others, in a block of rows or not.
    private static void AssertMatrixProducts(int m, int n, int k, int pad, bool accumulate, int seed, SimdWidth width, float tolerance)
    {
        float[] a = TestData.Random((m + pad) * (k + pad), seed), b = TestData.Random((k + pad) * (n + pad), seed + 1000);
        float[] start = TestData.Random(m * (n + pad), seed + 2000);
        void Check(string what, Action<float[]> reference, Action<float[]> product, Action<int, float[]> rowAlone)
        {
            float[] expected = start.ToArray(), actual = start.ToArray();
            reference(expected);
            product(actual);
            TestData.AssertClose(expected, actual, tolerance, $"{what} {m}×{n}×{k} {width}");
            for (int i = 0; i < m; i++)
            {
                float[] row = start.AsSpan(i * (n + pad), n).ToArray();
                rowAlone(i, row);
                Assert.Equal(TestData.Bits(actual.AsSpan(i * (n + pad), n)), TestData.Bits(row));
            }
        }
        Check("NN", c => GemmReference.MultiplyNN(m, n, k, a, k + pad, b, n + pad, c, n + pad, accumulate),
            c => Gemm.MultiplyNN(m, n, k, a, k + pad, b, n + pad, c, n + pad, accumulate, width),
            (i, row) => Gemm.MultiplyNN(1, n, k, a.AsSpan(i * (k + pad)), k + pad, b, n + pad, row, n, accumulate, width));
        Check("TN", c => GemmReference.MultiplyTN(m, n, k, a, m + pad, b, n + pad, c, n + pad, accumulate),
            c => Gemm.MultiplyTN(m, n, k, a, m + pad, b, n + pad, c, n + pad, accumulate, width),
            (i, row) => Gemm.MultiplyTN(1, n, k, a.AsSpan(i), m + pad, b, n + pad, row, n, accumulate, width));
        Check("NT", c => GemmReference.MultiplyNT(m, n, k, a, k + pad, b, k + pad, c, n + pad, accumulate),
            c => Gemm.MultiplyNT(m, n, k, a, k + pad, b, k + pad, c, n + pad, accumulate, width),
            (i, row) => Gemm.MultiplyNT(1, n, k, a.AsSpan(i * (k + pad)), k + pad, b, k + pad, row, n, accumulate, width));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ConvolutionKernelsMatchTheReference(SimdWidth width)
    {
        var random = new Random(2);
        // After the random shapes, fixed ones at stride 2, "same": windows far wider than the image (padding so wide that
        // whole rows and columns of a window reach no pixel, and some rows of the column matrix none at all), then lines
        // long enough for Im2Col's register-wide gather of every second pixel on every width, up to the plane's end.
        (int C, int H, int W, int K, int Window)[] fixedShapes = [(1, 1, 8, 2, 7), (1, 1, 1, 2, 7), (2, 2, 8, 3, 9), (1, 8, 1, 2, 7),
            (2, 5, 70, 3, 3), (1, 3, 67, 2, 5), (1, 2, 64, 2, 1)];
        for (int trial = 0; trial < 120 + fixedShapes.Length; trial++)
        {
            int c, h, w, k, kr, kc, sr, sc;
            Padding padding;
            if (trial < 120)
            {
                (c, h, w, k) = (random.Next(1, 5), random.Next(1, 12), random.Next(1, 20), random.Next(1, 7));
                // Stride 1 half the time: with same padding that is the whole-plane path of Im2Col.
                (kr, kc, sr, sc) = (random.Next(1, 5), random.Next(1, 5), random.Next(2) == 0 ? 1 : random.Next(2, 4), random.Next(2) == 0 ? 1 : random.Next(2, 4));
                padding = random.Next(2) == 0 ? Padding.Same : Padding.Valid;
                if (padding == Padding.Valid && (kr > h || kc > w)) padding = Padding.Same;
            }
            else
            {
                var edge = fixedShapes[trial - 120];
                (c, h, w, k, kr, kc, sr, sc, padding) = (edge.C, edge.H, edge.W, edge.K, edge.Window, edge.Window, 2, 2, Padding.Same);
            }
            var shape = ConvShape.Create(c, h, w, k, kr, kc, sr, sc, padding);
            string what = $"C{c} {h}×{w} K{k} {kr}×{kc} stride {sr}×{sc} {padding} {width}";
            float[] x = TestData.Random(shape.InputSize, trial), weights = TestData.Random(shape.WeightCount, trial + 1), bias = TestData.Random(k, trial + 2);
            float[] dy = TestData.Random(shape.OutputSize, trial + 3);
            float[] columns = TestData.Random(shape.ColumnsSize, trial + 6); // stale: Unfold writes every entry, padding included

            float[] expectedY = new float[shape.OutputSize], actualY = new float[shape.OutputSize];
            Conv2DReference.Forward(x, weights, bias, expectedY, shape);
            Im2Col.Unfold(x, columns, shape, width);
            Conv2DKernels.ForwardFilters(columns, weights, bias, actualY, 0, k, shape, width);
            TestData.AssertClose(expectedY, actualY, Tolerance, "forward " + what);
            // Any split of the filters (the threads' blocks at batch 1) gives the same bits.
            float[] blocks = new float[shape.OutputSize];
            for (int first = 0, size = random.Next(1, k + 1); first < k; first += size)
                Conv2DKernels.ForwardFilters(columns, weights, bias, blocks, first, Math.Min(k, first + size), shape, width);
            Assert.Equal(TestData.Bits(actualY), TestData.Bits(blocks));

            float[] expectedW = new float[shape.WeightCount], actualW = new float[shape.WeightCount];
            float[] expectedB = new float[k], actualB = new float[k];
            Conv2DReference.BackwardWeights(x, dy, expectedW, expectedB, shape);
            Conv2DKernels.BackwardBias(dy, actualB, shape);
            TestData.AssertClose(expectedB, actualB, Tolerance, "dB " + what);
            // dWᵀ in two row blocks over stale values, then once more accumulated: twice the gradient.
            int area = shape.Window.OutputArea, patch = shape.PatchSize, split = random.Next(patch + 1);
            float[] dyT = new float[shape.OutputSize], dWT = TestData.Random(shape.WeightCount, trial + 4);
            Transpose.Matrix(dy, k, area, area, dyT, k);
            Conv2DKernels.BackwardWeightsTransposed(columns, dyT, dWT, 0, split, accumulate: false, shape, width);
            Conv2DKernels.BackwardWeightsTransposed(columns, dyT, dWT, split, patch, accumulate: false, shape, width);
            Transpose.Matrix(dWT, patch, k, k, actualW, patch);
            TestData.AssertClose(expectedW, actualW, Tolerance, "dW " + what);
            Conv2DKernels.BackwardWeightsTransposed(columns, dyT, dWT, 0, patch, accumulate: true, shape, width);
            Transpose.Matrix(dWT, patch, k, k, actualW, patch);
            TestData.AssertClose(expectedW.Select(v => 2 * v).ToArray(), actualW, 2 * Tolerance, "2·dW accumulated " + what);
            // dW directly, in two filter blocks, then accumulated.
            actualW = TestData.Random(shape.WeightCount, trial + 5);
            int filterSplit = random.Next(k + 1);
            Conv2DKernels.BackwardWeights(dy, columns, actualW, 0, filterSplit, accumulate: false, shape, width);
            Conv2DKernels.BackwardWeights(dy, columns, actualW, filterSplit, k, accumulate: false, shape, width);
            TestData.AssertClose(expectedW, actualW, Tolerance, "dW direct " + what);
            Conv2DKernels.BackwardWeights(dy, columns, actualW, 0, k, accumulate: true, shape, width);
            TestData.AssertClose(expectedW.Select(v => 2 * v).ToArray(), actualW, 2 * Tolerance, "2·dW direct accumulated " + what);

            float[] expectedX = new float[shape.InputSize], actualX = TestData.Random(shape.InputSize, 9); // stale values must be overwritten
            Conv2DReference.BackwardInput(dy, weights, expectedX, shape);
            Conv2DKernels.BackwardInput(dy, weights, actualX, columns, shape, width);
            TestData.AssertClose(expectedX, actualX, Tolerance, "dX " + what);
            // Fold's register path (stride 2) has the scalar loop's bits.
            float[] folded = new float[shape.InputSize], foldedOneByOne = new float[shape.InputSize];
            Im2Col.Fold(columns.ToArray(), folded, shape, width);
            Im2Col.Fold(columns.ToArray(), foldedOneByOne, shape, SimdWidth.Scalar);
            Assert.Equal(TestData.Bits(foldedOneByOne), TestData.Bits(folded));
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ConvolutionFromAPaddedImageHasTheBitsOfItsColumns(SimdWidth width)
    {
        // Column strides 1 and 2, row strides 1 to 3, both paddings, odd and even windows (uneven "same" padding), lines
        // shorter and longer than a register, reductions past one packed slice (40 channels); stale images and outputs.
        // Where the rows are shifted planes (stride 1 "same", or valid one column wide), from those too.
        var random = new Random(4);
        int run = 0, shifted = 0;
        for (int trial = 0; trial < 120; trial++)
        {
            int c = trial % 10 == 0 ? 40 : random.Next(1, 12), kr = random.Next(1, 7), kc = random.Next(1, 7), h = random.Next(1, 14), w = random.Next(1, 40);
            int sr = random.Next(3) == 0 ? random.Next(2, 4) : 1, sc = random.Next(1, 3);
            var padding = random.Next(3) == 0 && kr <= h && kc <= w ? Padding.Valid : Padding.Same;
            int filters = 4 * random.Next(1, 7);
            var shape = ConvShape.Create(c, h, w, filters, kr, kc, sr, sc, padding);
            if (!Gemm.PacksEverything(filters, shape.Window.OutputArea, width)) continue; // fewer output positions than a register
            run++;
            string what = $"C{c} {h}×{w} K{filters} {kr}×{kc} stride {sr}×{sc} {padding} {width}";
            float[] x = TestData.Random(shape.InputSize, trial), weights = TestData.Random(shape.WeightCount, trial + 1), bias = TestData.Random(filters, trial + 2);
            float[] columns = new float[shape.ColumnsSize], expected = new float[shape.OutputSize];
            Im2Col.Unfold(x, columns, shape, width);
            Conv2DKernels.ForwardFilters(columns, weights, bias, expected, 0, filters, shape, width);
            float[] image = TestData.Random(PaddedImage.Size(shape), trial + 3), actual = TestData.Random(shape.OutputSize, trial + 4);
            PaddedImage.Pad(x, image, shape);
            var columnsOfImage = new PaddedImage(image, shape);
            Conv2DKernels.ForwardFiltersFrom(ref columnsOfImage, weights, bias, actual, 0, filters, shape, width);
            Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), what);
            if (!ShiftedPlanes.Applies(shape)) continue;
            shifted++;
            float[] planes = TestData.Random(ShiftedPlanes.Size(shape), trial + 5);
            actual = TestData.Random(shape.OutputSize, trial + 6);
            ShiftedPlanes.Pad(x, planes, shape);
            var columnsOfPlanes = new ShiftedPlanes(planes, shape);
            Conv2DKernels.ForwardFiltersFrom(ref columnsOfPlanes, weights, bias, actual, 0, filters, shape, width);
            Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), "shifted planes " + what);
        }
        Assert.True(run >= 40 && shifted >= 10, $"only {run} shapes had a register of output positions, {shifted} of them shifted planes");
    }

    [Fact]
    public void ElementwiseOperationsInPiecesHaveTheBitsOfOnePass()
    {
        // Past several pieces and 256 KB (where TensorPrimitives would store around the caches), with ragged ends, one a
        // few floats past a whole number of pieces; NaN and −0 among the values.
        foreach (int length in new[] { 3 * 16 * 1024 + 70_001, 4 * 16 * 1024 + 5 })
            InPieces(length);
    }

    private static void InPieces(int length)
    {
        float[] x = TestData.Random(length, 1), y = TestData.Random(length, 2);
        x[5] = float.NaN;
        x[length - 1] = -0f;
        void Same(string what, Action<float[]> whole, Action<float[]> pieces)
        {
            float[] expected = TestData.Random(length, 3), actual = TestData.Random(length, 3);
            whole(expected);
            pieces(actual);
            Assert.True(TestData.Bits(expected).SequenceEqual(TestData.Bits(actual)), $"{what}, {length} floats");
        }
        Same("relu", d => TensorPrimitives.Max(x, 0f, d), d => { x.CopyTo(d, 0); Activations.Relu(d); });
        Same("tanh", d => TensorPrimitives.Tanh(x, d), d => { x.CopyTo(d, 0); Activations.Tanh(d); });
        Same("sigmoid", d => TensorPrimitives.Sigmoid(x, d), d => { x.CopyTo(d, 0); Activations.Sigmoid(d); });
        Same("add", d => TensorPrimitives.Add(x, y, d), d => InCache.Add(x, y, d));
        Same("add a scalar", d => TensorPrimitives.Add(x, 0.25f, d), d => InCache.Add(x, 0.25f, d));
        Same("multiply", d => TensorPrimitives.Multiply(x, y, d), d => InCache.Multiply(x, y, d));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void WinogradMatchesTheDirectConvolution(SimdWidth width)
    {
        // 3×3 stride 1, odd and even sizes (partial tiles), sizes down to 1×1, both paddings; the forward pass, and both
        // gradients from one transform of dY, over stale outputs and scratch.
        var random = new Random(3);
        for (int trial = 0; trial < 80; trial++)
        {
            int c = random.Next(1, 20), h = random.Next(1, 16), w = random.Next(1, 20), k = random.Next(1, 20);
            var padding = random.Next(2) == 0 || h < 3 || w < 3 ? Padding.Same : Padding.Valid;
            var shape = ConvShape.Create(c, h, w, k, 3, 3, 1, 1, padding);
            string what = $"C{c} {h}×{w} K{k} {padding} {width}";
            float[] x = TestData.Random(shape.InputSize, trial), weights = TestData.Random(shape.WeightCount, trial + 1), bias = TestData.Random(k, trial + 2);
            float[] dy = TestData.Random(shape.OutputSize, trial + 3);

            WinogradTiles forward = WinogradTiles.Of(shape);
            float[] u = TestData.Random(forward.KernelSize, trial + 15), scratch = TestData.Random(forward.ScratchSize, trial + 4), v = TestData.Random(forward.InputTransformSize, trial + 8);
            float[] expectedY = new float[shape.OutputSize], actualY = TestData.Random(shape.OutputSize, trial + 5);
            Conv2DReference.Forward(x, weights, bias, expectedY, shape);
            Winograd.TransformKernels(weights, u, TestData.Random(forward.KernelScratchSize, trial + 13), forward, forInputGradient: false, width);
            Winograd.TransformInput(x, v, scratch, forward, width);
            Correlate(v, u, bias, actualY, scratch, forward, width);
            TestData.AssertClose(expectedY, actualY, WinogradTolerance(c), "forward " + what);
            // ReLU inside the output transform: the bits of the separate pass, negative outputs, and a NaN bias's outputs, included.
            float[] shifted = bias.Select((value, i) => i == 0 ? float.NaN : value - 0.5f).ToArray();
            float[] rectified = TestData.Random(shape.OutputSize, trial + 19), separate = TestData.Random(shape.OutputSize, trial + 20);
            Correlate(v, u, shifted, rectified, scratch, forward, width, rectify: true);
            Correlate(v, u, shifted, separate, scratch, forward, width);
            Activations.Relu(separate);
            Assert.Equal(separate, rectified);
            // 2×2 max-pooling inside the output transform: the bits of the pooling's own pass, with and without ReLU.
            if (shape.Window.Rows.Output >= 2 && shape.Window.Columns.Output >= 2)
            {
                var pool = Window2D.Create(shape.Window.Rows.Output, shape.Window.Columns.Output, 2, 2, 2, 2, Padding.Valid);
                foreach (bool rectify in new[] { false, true })
                {
                    float[] full = new float[shape.OutputSize], expectedPooled = new float[k * pool.OutputArea], pooled = TestData.Random(k * pool.OutputArea, trial + 21);
                    Correlate(v, u, shifted, full, scratch, forward, width, rectify);
                    Pooling2DKernels.MaxForward(full, expectedPooled, default, k, pool, width);
                    Correlate(v, u, shifted, pooled, scratch, forward, width, rectify, pool: true);
                    Assert.Equal(TestData.Bits(expectedPooled), TestData.Bits(pooled));
                }
            }

            // The weight gradient from the forward's V, two images' worth accumulated (the same image twice), the rows of
            // each point's product in two blocks.
            float[] expectedW = new float[shape.WeightCount], expectedB = new float[k], actualW = TestData.Random(shape.WeightCount, trial + 9);
            Conv2DReference.BackwardWeights(x, dy, expectedW, expectedB, shape);
            float[] gradient = TestData.Random(forward.GradientTransformSize, trial + 10), z = TestData.Random(forward.KernelSize, trial + 11);
            float[] plane = TestData.Random(forward.OutputGradientPlaneSize, trial + 17);
            Winograd.TransformOutputGradient(dy, gradient, plane, forward, width);
            int split = random.Next(forward.PaddedChannels + 1);
            for (int image = 0; image < 2; image++)
                for (int point = 0; point < WinogradTiles.Points; point++)
                {
                    Winograd.AccumulateWeightGradient(v, gradient, z, point, 0, split, accumulate: image > 0, forward, width);
                    Winograd.AccumulateWeightGradient(v, gradient, z, point, split, forward.PaddedChannels, accumulate: image > 0, forward, width);
                }
            for (int channel = 0; channel < c; channel++) Winograd.FinishWeightGradient(z, actualW, channel, forward);
            TestData.AssertClose(expectedW.Select(value => 2 * value).ToArray(), actualW, WinogradTolerance(h * w), "2·dW " + what);

            // dX from the same Ĝ and the scaled kernels W, over stale kernels, scratch and output.
            float[] kernels = TestData.Random(forward.KernelSize, trial + 16), inputScratch = TestData.Random(forward.InputGradientScratchSize, trial + 6);
            float[] expectedX = new float[shape.InputSize], actualX = TestData.Random(shape.InputSize, trial + 7);
            Conv2DReference.BackwardInput(dy, weights, expectedX, shape);
            Winograd.TransformKernels(weights, kernels, TestData.Random(forward.KernelScratchSize, trial + 14), forward, forInputGradient: true, width);
            Winograd.InputGradient(gradient, kernels, actualX, inputScratch, forward, width);
            TestData.AssertClose(expectedX, actualX, WinogradTolerance(k), "dX " + what);
        }
    }

    [Fact]
    public void TransposeInBlocksMatchesTheElementLoop()
    {
        // Whole 8×8 register blocks (where AVX is there), ragged edges as overlapping blocks, and the element loop for
        // shapes narrower than a block, with row strides; then destination rows a multiple of 1 KB apart (written in
        // chunks of source rows), over several chunks and a ragged last one.
        var random = new Random(4);
        for (int trial = 0; trial < 80; trial++)
        {
            bool far = trial >= 60;
            int rows = far ? random.Next(8, 300) : random.Next(1, 40), columns = random.Next(1, 40), ldSource = columns + random.Next(3);
            int ldDestination = far ? (rows / 256 + 1) * 256 * random.Next(1, 3) : rows + random.Next(3);
            float[] source = TestData.Random(rows * ldSource, trial);
            float[] expected = TestData.Random(columns * ldDestination, trial + 1), actual = expected.ToArray();
            Transpose.Matrix(source, rows, columns, ldSource, expected, ldDestination, useBlocks: false);
            Transpose.Matrix(source, rows, columns, ldSource, actual, ldDestination);
            Assert.Equal(expected, actual);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++)
                    Assert.Equal(source[i * ldSource + j], expected[j * ldDestination + i]);
        }
    }

    // The transforms add and halve before the products: rounding grows with the reduction length, a little more than direct.
    private static float WinogradTolerance(int reduction) => 1e-5f * (2 + reduction / 4f);

    // One image's forward pass in pieces, as the layer runs it: every point's product, then the output transform.
    private static void Correlate(ReadOnlySpan<float> v, ReadOnlySpan<float> u, ReadOnlySpan<float> bias, Span<float> y, Span<float> scratch,
        in WinogradTiles tiles, SimdWidth width, bool rectify = false, bool pool = false)
    {
        for (int point = 0; point < WinogradTiles.Points; point++) Winograd.MultiplyPoint(v, u, scratch, tiles, point, width);
        Winograd.FinishOutput(bias, y, scratch, tiles, 0, Winograd.OutputRows(tiles, pool), width, rectify, pool);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void WinogradOverAGroupOfImagesHasEachImagesBits(SimdWidth width)
    {
        // Small images (few tiles, so short products), a group of 1 to 4 in one product per point, over stale V, M and
        // outputs: each image's output, pooled or not, and its share of the weight gradient from the group's V, bit for
        // bit as the image alone gets them.
        var random = new Random(6);
        for (int trial = 0; trial < 24; trial++)
        {
            int c = random.Next(8, 40), h = random.Next(3, 10), w = random.Next(3, 10), k = random.Next(8, 40), images = 1 + trial % 4;
            var shape = ConvShape.Create(c, h, w, k, 3, 3, 1, 1, trial % 3 == 0 ? Padding.Valid : Padding.Same);
            WinogradTiles tiles = WinogradTiles.Of(shape);
            string what = $"C{c} {h}×{w} K{k} {images} images {width}";
            float[] weights = TestData.Random(shape.WeightCount, trial), bias = TestData.Random(k, trial + 1), u = new float[tiles.KernelSize];
            Winograd.TransformKernels(weights, u, new float[tiles.KernelScratchSize], tiles, forInputGradient: false, width);
            float[] x = TestData.Random(images * shape.InputSize, trial + 2), dy = TestData.Random(shape.OutputSize, trial + 3);
            float[] groupV = TestData.Random(images * tiles.InputTransformSize, trial + 4), groupScratch = TestData.Random(tiles.GroupScratchSize(images), trial + 5);
            for (int i = 0; i < images; i++)
                Winograd.TransformInput(x.AsSpan(i * shape.InputSize, shape.InputSize), groupV, groupScratch, tiles, width, image: i, images: images);
            for (int point = 0; point < WinogradTiles.Points; point++) Winograd.MultiplyPoint(groupV, u, groupScratch, tiles, point, width, images);
            float[] gradient = new float[tiles.GradientTransformSize];
            Winograd.TransformOutputGradient(dy, gradient, new float[tiles.OutputGradientPlaneSize], tiles, width);
            foreach (bool pool in new[] { false, true })
                for (int i = 0; i < images; i++)
                {
                    int size = pool ? k * (shape.Window.Rows.Output / 2) * (shape.Window.Columns.Output / 2) : shape.OutputSize;
                    float[] v = TestData.Random(tiles.InputTransformSize, trial + 6), scratch = TestData.Random(tiles.ScratchSize, trial + 7);
                    float[] alone = TestData.Random(size, trial + 8), grouped = TestData.Random(size, trial + 9);
                    Winograd.TransformInput(x.AsSpan(i * shape.InputSize, shape.InputSize), v, scratch, tiles, width);
                    Correlate(v, u, bias, alone, scratch, tiles, width, rectify: true, pool);
                    Winograd.FinishOutput(bias, grouped, groupScratch, tiles, 0, Winograd.OutputRows(tiles, pool), width, rectify: true, pool, image: i, images: images);
                    Assert.True(TestData.Bits(alone).SequenceEqual(TestData.Bits(grouped)), $"output of image {i}, pool {pool}, {what}");
                    if (pool) continue;
                    float[] zAlone = TestData.Random(tiles.KernelSize, trial + 10), zGrouped = zAlone.ToArray();
                    for (int point = 0; point < WinogradTiles.Points; point++)
                    {
                        Winograd.AccumulateWeightGradient(v, gradient, zAlone, point, 0, tiles.PaddedChannels, accumulate: true, tiles, width);
                        Winograd.AccumulateWeightGradient(groupV, gradient, zGrouped, point, 0, tiles.PaddedChannels, accumulate: true, tiles, width, i, images);
                    }
                    Assert.True(TestData.Bits(zAlone).SequenceEqual(TestData.Bits(zGrouped)), $"weight gradient of image {i}, {what}");
                }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void AdamStepMatchesTheReferenceAtEveryLength(SimdWidth width)
    {
        for (int length = 0; length <= 70; length++)
        {
            float[] g = TestData.Random(length, length, 0.5f), p = TestData.Random(length, length + 1);
            float[] m = TestData.Random(length, length + 2, 0.1f), v = TestData.Random(length, length + 3, 0.1f).Select(MathF.Abs).ToArray();
            float[] pe = p.ToArray(), me = m.ToArray(), ve = v.ToArray();
            AdamReference.Step(pe, g, me, ve, 1e-3f, 0.9f, 0.999f, 1e-7f);
            AdamKernels.Step(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-7f, width);
            TestData.AssertClose(me, m, 1e-6f, $"m, length {length}, {width}");
            TestData.AssertClose(ve, v, 1e-6f, $"v, length {length}, {width}");
            TestData.AssertClose(pe, p, 1e-6f, $"parameters, length {length}, {width}");
        }
    }

    // Moments that would be subnormal are 0, at every width and in the scalar tail; the normal ones keep their rule.
    [Theory]
    [MemberData(nameof(Widths))]
    public void AdamFlushesSubnormalMomentsToZero(SimdWidth width)
    {
        const int length = 37;
        float tiny = BitConverter.Int32BitsToSingle(0x0080_0000) * 1.05f; // just above the smallest normal: × 0.9 is subnormal
        float[] m = Enumerable.Range(0, length).Select(i => (i % 4) switch { 0 => tiny, 1 => -tiny, 2 => 1e-40f, _ => 1e-3f }).ToArray();
        float[] v = Enumerable.Range(0, length).Select(i => i % 3 == 0 ? 1e-40f : 1e-6f).ToArray();
        float[] g = new float[length], p = new float[length];
        float[] expectedM = m.Select(x => x * 0.9f).ToArray(), expectedV = v.Select(x => x * 0.999f).ToArray();
        AdamKernels.Step(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-7f, width);
        for (int i = 0; i < length; i++)
        {
            Assert.False(float.IsSubnormal(m[i]) || float.IsSubnormal(v[i]), $"element {i}, {width}: m {m[i]}, v {v[i]}");
            Assert.Equal(float.IsSubnormal(expectedM[i]) ? 0 : expectedM[i], m[i], 1e-6f * Math.Abs(expectedM[i]));
            Assert.Equal(float.IsSubnormal(expectedV[i]) ? 0 : expectedV[i], v[i], 1e-6f * Math.Abs(expectedV[i]));
        }
        float[] velocity = [tiny * 0.5f, -1e-40f, 1e-3f, float.Epsilon, 0];
        Subnormals.Flush(velocity, width);
        Assert.Equal([0, 0, 1e-3f, 0, 0], velocity);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void MaxPoolingFastPathMatchesTheReference(SimdWidth width)
    {
        var random = new Random(3);
        for (int trial = 0; trial < 300; trial++)
        {
            // Widths up to 70 give output rows of 1 to 35: shorter than, equal to and longer than every register.
            int c = random.Next(1, 5), h = random.Next(2, 14), w = random.Next(2, 71);
            var padding = trial % 3 == 0 ? Padding.Same : Padding.Valid;
            var window = Window2D.Create(h, w, 2, 2, 2, 2, padding);
            // Coarse values make ties common, +0 against −0 among them (the first in the window must win, bit for bit);
            // NaNs of different payloads (the first in the window must win) and infinities (∞ − ∞ must not confuse a
            // path that looks for NaN by summing).
            float[] x = Enumerable.Range(0, c * h * w).Select(_ => random.Next(-3, 4) switch { 0 => random.Next(2) == 0 ? 0f : -0f, int v => v }).ToArray();
            for (int i = 0; i < trial % 5; i++)
                x[random.Next(x.Length)] = i switch
                {
                    0 or 1 => BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00000u) | random.Next(1 << 22)),
                    2 => float.PositiveInfinity,
                    _ => float.NegativeInfinity,
                };
            int outputs = c * window.OutputArea;
            float[] expectedY = new float[outputs], actualY = new float[outputs];
            int[] expectedIndex = new int[outputs], actualIndex = new int[outputs];
            Pooling2DReference.MaxForward(x, expectedY, expectedIndex, c, window);
            Pooling2DKernels.MaxForward(x, actualY, actualIndex, c, window, width);
            Assert.Equal(TestData.Bits(expectedY), TestData.Bits(actualY));
            Assert.Equal(expectedIndex, actualIndex);
            actualY = new float[outputs];
            Pooling2DKernels.MaxForward(x, actualY, default, c, window, width); // inference keeps no indices
            Assert.Equal(TestData.Bits(expectedY), TestData.Bits(actualY));
            // The backward pass routes dY, −0 and NaN among it, to the winners, over stale dX.
            float[] dy = Enumerable.Range(0, outputs).Select(i => i % 7 == 3 ? -0f : i % 11 == 5 ? float.NaN : (float)random.NextDouble() - 0.5f).ToArray();
            float[] expectedDx = new float[c * h * w], actualDx = TestData.Random(c * h * w, trial);
            Pooling2DReference.MaxBackward(dy, expectedIndex, expectedDx, c * h * w);
            Pooling2DKernels.MaxBackward(dy, expectedIndex, actualDx, c, window, width);
            Assert.Equal(TestData.Bits(expectedDx), TestData.Bits(actualDx));
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ReluBackwardMatchesTheDefinitionAtEveryLength(SimdWidth width)
    {
        for (int length = 0; length <= 70; length++)
        {
            float[] a = TestData.Random(length, length), da = TestData.Random(length, length + 100);
            if (length > 3) a[3] = 0; // the kink itself passes no gradient
            var dz = new float[length];
            Activations.ReluBackward(a, da, dz, width);
            for (int i = 0; i < length; i++) Assert.Equal(a[i] > 0 ? da[i] : 0f, dz[i]);
        }
    }
}
