using Microsoft.ML.Data;
using SkiaSharp;

namespace MlNetConv.Hosting;

/// <summary>
/// Decodes an image's bytes once, completely, into the <see cref="MLImage"/> the pipeline's steps after LoadImages take,
/// or says why it cannot. LoadImages (SkiaSharp's <c>SKBitmap.Decode</c>) accepts a truncated file and returns its top
/// rows over a blank rest; here only a complete decode counts, and the reason is the decoder's own.
/// </summary>
internal static class ImageDecoder
{
    /// <summary>
    /// The image, with exactly the pixels LoadImages would give for the same bytes (Skia's decode at the codec's own
    /// colour type with premultiplied alpha, then BGRA, as MLImage converts), or null and the reason.
    /// </summary>
    public static (MLImage? Image, string? Reason) Decode(ReadOnlySpan<byte> bytes, long maxPixels)
    {
        if (bytes.IsEmpty) return (null, "empty file");
        using var data = SKData.CreateCopy(bytes);
        using var stream = new SKMemoryStream(data); // owned by the codec once it opens
        using var codec = SKCodec.Create(stream, out SKCodecResult opened);
        if (codec is null) return (null, $"not an image the decoder knows (no PNG, JPEG, BMP, GIF, WebP or ICO header; Skia: {opened})");
        SKImageInfo info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0) return (null, "an image with no pixels");
        if (pixels > maxPixels) return (null, $"too large: {info.Width}×{info.Height} pixels; the limit is {maxPixels:N0} (ImageScoring:MaxImagePixels)");
        // What SKBitmap.Decode, and so LoadImages, decodes to.
        if (info.AlphaType == SKAlphaType.Unpremul) info.AlphaType = SKAlphaType.Premul;
        info.ColorSpace = null;
        // A grey byte goes to BGRA exactly (repeated), so grey images decode straight into BGRA: one pass and one bitmap
        // instead of two (a fifth less time per 28×28 PNG, the same pixels). Other types convert after the decode, as
        // MLImage does, whose rounding that keeps.
        if (info.ColorType == SKColorType.Gray8) info.ColorType = SKColorType.Bgra8888;
        using var bitmap = new SKBitmap(info);
        SKCodecResult decoded = codec.GetPixels(info, bitmap.GetPixels());
        if (decoded != SKCodecResult.Success)
        {
            return (null, decoded switch
            {
                SKCodecResult.IncompleteInput => $"truncated: the {codec.EncodedFormat} data ends before the image does (Skia: {decoded})",
                SKCodecResult.ErrorInInput => $"corrupt {codec.EncodedFormat} data (Skia: {decoded})",
                _ => $"the {codec.EncodedFormat} image could not be decoded (Skia: {decoded})",
            });
        }
        if (info.ColorType == SKColorType.Bgra8888) return (ToMLImage(bitmap), null);
        using SKBitmap? bgra = bitmap.Copy(SKColorType.Bgra8888);
        return bgra is null
            ? (null, $"a {codec.EncodedFormat} image of colour type {info.ColorType}, which has no BGRA form")
            : (ToMLImage(bgra), null);
    }

    // A copy of the pixels, not a second decode.
    private static MLImage ToMLImage(SKBitmap bgra) => MLImage.CreateFromPixels(bgra.Width, bgra.Height, MLPixelFormat.Bgra32, bgra.GetPixelSpan());
}
