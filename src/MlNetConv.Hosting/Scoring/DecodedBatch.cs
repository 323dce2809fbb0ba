using Microsoft.ML.Data;

namespace MlNetConv.Hosting;

/// <summary>
/// A batch of images after decoding, before scoring: for each image its decoded pixels or the reason it cannot be
/// decoded, and the time the decoding took. Disposing it frees the pixels.
/// </summary>
internal sealed class DecodedBatch(IReadOnlyList<ImageToScore> images, MLImage?[] decoded, string?[] reasons, TimeSpan decodeTime) : IDisposable
{
    public IReadOnlyList<ImageToScore> Images { get; } = images;

    /// <summary>The decoded image at each position of <see cref="Images"/>, or null where <see cref="Reasons"/> says why not.</summary>
    public IReadOnlyList<MLImage?> Decoded { get; } = decoded;

    public IReadOnlyList<string?> Reasons { get; } = reasons;

    public TimeSpan DecodeTime { get; } = decodeTime;

    public void Dispose()
    {
        foreach (MLImage? image in decoded) image?.Dispose();
    }
}
