using System.Runtime.CompilerServices;
namespace MlNetConv.Core.Kernels;

/// <summary>
/// Geometric transforms of one image (C, H, W) for the augmentation layers, forward and backward side by side.
/// Flip mirrors rows and/or columns (its own inverse, so its backward is the same flip). Translate moves the image by
/// (dy, dx) pixels, fractions included: y(i, j) = bilinear x(i − dy, j − dx), zero outside the image (Keras's
/// fill_mode="constant" with fill_value 0); its backward scatters dY back with the same four weights.
/// </summary>
internal static class ImageTransformKernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Flip(ReadOnlySpan<float> x, Span<float> y, int channels, int height, int width, bool horizontal, bool vertical)
    {
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < height; i++)
            {
                ReadOnlySpan<float> source = x.Slice((c * height + (vertical ? height - 1 - i : i)) * width, width);
                Span<float> row = y.Slice((c * height + i) * width, width);
                source.CopyTo(row);
                if (horizontal) row.Reverse();
            }
    }

    public static void TranslateForward(ReadOnlySpan<float> x, Span<float> y, int channels, int height, int width, float dy, float dx) =>
        Translate(x, y, channels, height, width, dy, dx, transpose: false);

    public static void TranslateBackward(ReadOnlySpan<float> dyOut, Span<float> dxIn, int channels, int height, int width, float dy, float dx) =>
        Translate(dyOut, dxIn, channels, height, width, dy, dx, transpose: true);

    // Output (i, j) reads the source at (i − dy, j − dx): rows i0 = i + floor(−dy) and i0 + 1 with weights 1 − fy and fy,
    // columns likewise. Forward gathers target[to] += w·source[from]; the transpose scatters target[from] += w·source[to].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Translate(ReadOnlySpan<float> source, Span<float> target, int channels, int height, int width, float dy, float dx, bool transpose)
    {
        target.Clear();
        int shiftY = (int)MathF.Floor(-dy), shiftX = (int)MathF.Floor(-dx), area = height * width;
        float fy = -dy - shiftY, fx = -dx - shiftX;
        ReadOnlySpan<float> rowWeights = [1 - fy, fy], columnWeights = [1 - fx, fx];
        for (int i = 0; i < height; i++)
            for (int a = 0; a < 2; a++)
            {
                int si = i + shiftY + a;
                if ((uint)si >= (uint)height || rowWeights[a] == 0) continue;
                for (int j = 0; j < width; j++)
                    for (int b = 0; b < 2; b++)
                    {
                        int sj = j + shiftX + b;
                        if ((uint)sj >= (uint)width || columnWeights[b] == 0) continue;
                        float weight = rowWeights[a] * columnWeights[b];
                        int to = i * width + j, from = si * width + sj;
                        for (int c = 0; c < channels; c++)
                        {
                            if (transpose) target[c * area + from] += weight * source[c * area + to];
                            else target[c * area + to] += weight * source[c * area + from];
                        }
                    }
            }
    }
}
