using Microsoft.ML;
using MlNetConv.Core.Data;
using MlNetConv.Core.Training;
using SkiaSharp;

namespace MlNetConv.Data;

/// <summary>Fashion-MNIST for ML.NET: the IDX files as data views, and as PNG files in class folders.</summary>
public static class FashionMnistData
{
    /// <summary>The training and test sets of the four standard IDX files in <paramref name="directory"/> as data views.</summary>
    public static (IDataView Train, IDataView Test) Load(string directory)
    {
        var (train, test) = FashionMnist.Load(directory);
        return (new DatasetDataView(train, FashionMnist.ClassNames), new DatasetDataView(test, FashionMnist.ClassNames));
    }

    /// <summary>
    /// Writes each image of <paramref name="data"/> as an 8-bit grayscale PNG under <paramref name="directory"/>/class name/,
    /// and an index to <paramref name="indexPath"/>: per image, its path relative to the index's folder, TAB, its class name
    /// (so <c>LoadImages</c> takes the index's folder as its image folder). This is the layout people keep their own
    /// labelled images in. Existing files are overwritten.
    /// </summary>
    public static void ExportPngFolders(Dataset data, IReadOnlyList<string> classNames, string directory, string indexPath, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = data.SampleShape;
        if (shape.Rank != 3 || shape.Channels != 1)
            throw new ArgumentException($"PNG export takes single-channel images; the samples are {shape}.", nameof(data));
        string indexFolder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        Directory.CreateDirectory(indexFolder);
        using var index = new StreamWriter(indexPath);
        var image = new float[shape.Size];
        for (int i = 0; i < data.Count; i++)
        {
            string className = classNames[data.Labels[i]];
            string path = Path.Combine(Path.GetFullPath(directory), SafeFolderName(className), $"{i:D5}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            data.CopySamples(i, 1, image);
            Png.WriteGray(image, shape.Width, shape.Height, path);
            index.Write(Path.GetRelativePath(indexFolder, path).Replace('\\', '/'));
            index.Write('\t');
            index.WriteLine(className);
            if (i % 1000 == 999) progress?.Report(i + 1);
        }
        progress?.Report(data.Count);
    }

    // "T-shirt/top" cannot be a folder name.
    private static string SafeFolderName(string className) =>
        string.Concat(className.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c == '/' || c == '\\' ? '-' : c));
}

/// <summary>PNG writing shared by the exporters and the pictures.</summary>
internal static class Png
{
    /// <summary>[0, 1] gray values as an 8-bit grayscale PNG.</summary>
    public static void WriteGray(ReadOnlySpan<float> gray, int width, int height, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var pixels = new byte[width * height];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)Math.Clamp(MathF.Round(gray[i] * 255), 0, 255);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        Save(bitmap, path);
    }

    public static void Save(SKBitmap bitmap, string path)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode {path} as PNG.");
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
