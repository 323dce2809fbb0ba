using MlNetConv.Core.Data;
using SkiaSharp;

namespace MlNetConv.Tests;

/// <summary>
/// Real PNG files from the shipped Fashion-MNIST subset in class folders under train/ and test/, and an index per
/// set listing "path relative to the root TAB class name": what a user with their own labelled images has.
/// </summary>
public sealed class ImageFolders : IDisposable
{
    public ImageFolders()
    {
        Root = Directory.CreateTempSubdirectory("mlnetconv-images").FullName;
        (Train, TrainCount) = (Write("train", TestData.Train, 0, 1000), 1000);
        (Test, TestCount) = (Write("test", TestData.Test, 0, 300), 300);
    }

    public string Root { get; }

    /// <summary>Index of the training images (paths relative to <see cref="Root"/>).</summary>
    public string Train { get; }

    public int TrainCount { get; }

    /// <summary>Index of the test images (paths relative to <see cref="Root"/>).</summary>
    public string Test { get; }

    public int TestCount { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private string Write(string name, Core.Data.Dataset data, int start, int count)
    {
        string indexPath = Path.Combine(Root, name + ".tsv");
        using var index = new StreamWriter(indexPath);
        for (int i = start; i < start + count; i++)
        {
            string className = FashionMnist.ClassNames[data.Labels[i]];
            string relative = Path.Combine(name, className.Replace('/', '-'), $"{i:D5}.png");
            string path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            WritePng(data.SamplesToArray(i, 1), 28, 28, path);
            index.WriteLine($"{relative}\t{className}");
        }
        return indexPath;
    }

    /// <summary>Writes [0, 1] gray values as an 8-bit grayscale PNG.</summary>
    public static void WritePng(ReadOnlySpan<float> gray, int width, int height, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var pixels = new byte[gray.Length];
        for (int i = 0; i < gray.Length; i++) pixels[i] = (byte)Math.Round(gray[i] * 255);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
