using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML;
using SkiaSharp;

namespace MlNetConv.Tests;

/// <summary>The README's main command, run for real for one epoch: its report, its model zip and its pictures.</summary>
public partial class ExampleTests
{
    private static readonly string[] PictureNames =
        ["filters-conv2d.png", "training-curves.png", "feature-maps-input.png", "feature-maps-conv2d.png", "feature-maps-conv2d_1.png", "misclassified.png"];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneEpochProducesAReportAModelZipAndThePictures(bool fromPng)
    {
        string output = Directory.CreateTempSubdirectory("mlnetconv-example").FullName;
        try
        {
            string stdout = Run(["--epochs", "1", "--output", output, .. fromPng ? new[] { "--from-png" } : []]);
            Assert.Contains("Total params: 333,526", stdout);
            Assert.Contains("reloaded: predictions identical", stdout);
            Assert.Contains("confusion matrix", stdout);
            double accuracy = double.Parse(TestAccuracy().Match(stdout).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(accuracy > 0.6, $"test accuracy {accuracy} after one epoch (chance is 0.1)");

            foreach (string name in PictureNames)
            {
                using var bitmap = SKBitmap.Decode(Path.Combine(output, name));
                Assert.True(bitmap is { Width: > 50, Height: > 50 }, $"{name} is not a readable picture");
            }
            ITransformer model = new MLContext().Model.Load(Path.Combine(output, "model.zip"), out var schema);
            Assert.Contains(schema, c => c.Name == (fromPng ? "ImagePath" : "Features"));
            if (fromPng) Assert.True(Directory.GetFiles(Path.Combine(output, "png", "test"), "*.png", SearchOption.AllDirectories).Length == 2000);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void BadArgumentsPrintUsageAndFail()
    {
        var (code, _, stderr) = Start(["--epochs", "zero"]);
        Assert.Equal(2, code);
        Assert.Contains("usage: FashionMnist", stderr);
        (code, _, stderr) = Start(["--data", "/nonexistent/fashion-mnist"]);
        Assert.NotEqual(0, code);
        Assert.Contains("/nonexistent/fashion-mnist", stderr);
    }

    private static string Run(string[] args)
    {
        var (code, stdout, stderr) = Start(args);
        Assert.True(code == 0, $"the example exited with {code}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private static (int Code, string Stdout, string Stderr) Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "FashionMnist.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    [GeneratedRegex(@"test: accuracy ([\d.]+)")]
    private static partial Regex TestAccuracy();
}
