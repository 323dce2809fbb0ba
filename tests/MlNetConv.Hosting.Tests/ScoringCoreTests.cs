using Microsoft.ML;

namespace MlNetConv.Hosting.Tests;

/// <summary>The scoring core decodes each image once: the decoded images take LoadImages's place in the pipeline.</summary>
[Collection(nameof(Models))]
public class ScoringCoreTests(Models models)
{
    [Fact]
    public void DecodedImagesScoreAsLoadImagesDoesWithoutAnyFileBeingOpened()
    {
        ScoringModel model = ScoringModel.Load(models.ModelA, threads: 2);
        string[] files = models.Pool[..60];
        var images = files.Select(f => ImageDecoder.Decode(File.ReadAllBytes(f), long.MaxValue).Image!).ToList();
        // Names that are no paths at all: LoadImages would fail on them, so any score here came from the decoded images.
        string[] names = [.. files.Select((_, i) => $"no-such-file-{i}.png")];
        ImagePrediction[] predictions = model.Score(names, images);
        images.ForEach(i => i.Dispose());

        var ml = new MLContext();
        var engine = ml.Model.CreatePredictionEngine<Models.ImageRow, Scores>(ml.Model.Load(models.ModelA, out _));
        for (int i = 0; i < files.Length; i++)
        {
            float[] expected = engine.Predict(new Models.ImageRow { ImagePath = files[i] }).Score;
            Assert.Equal(expected.OrderDescending().Take(3), predictions[i].Top.Select(t => t.Score)); // bit for bit
        }
    }

    [Fact]
    public void TheDecoderAgreesWithLoadImagesOnEveryPixel()
    {
        // Grayscale PNGs, and colour ones with and without transparency (premultiplied alpha), as PNG and JPEG.
        string folder = Directory.CreateTempSubdirectory("mlnetconv-decoder").FullName;
        string[] made =
        [
            Encode(folder, "translucent.png", SkiaSharp.SKEncodedImageFormat.Png, SkiaSharp.SKAlphaType.Unpremul),
            Encode(folder, "opaque.jpg", SkiaSharp.SKEncodedImageFormat.Jpeg, SkiaSharp.SKAlphaType.Opaque),
        ];
        foreach (string file in models.Pool[..20].Concat(made))
        {
            using var ours = ImageDecoder.Decode(File.ReadAllBytes(file), long.MaxValue).Image!;
            using var theirs = Microsoft.ML.Data.MLImage.CreateFromFile(file);
            Assert.Equal((theirs.Width, theirs.Height, theirs.PixelFormat), (ours.Width, ours.Height, ours.PixelFormat));
            Assert.True(theirs.Pixels.SequenceEqual(ours.Pixels), $"{file}: the pixels differ from LoadImages's");
        }
        Directory.Delete(folder, recursive: true);
    }

    private static string Encode(string folder, string name, SkiaSharp.SKEncodedImageFormat format, SkiaSharp.SKAlphaType alpha)
    {
        using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(13, 9, SkiaSharp.SKColorType.Rgba8888, alpha));
        var random = new Random(5);
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                bitmap.SetPixel(x, y, new SkiaSharp.SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256),
                    alpha == SkiaSharp.SKAlphaType.Opaque ? (byte)255 : (byte)random.Next(256)));
        string path = Path.Combine(folder, name);
        using var data = bitmap.Encode(format, 90);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    public sealed class Scores
    {
        public float[] Score { get; set; } = [];
    }
}
