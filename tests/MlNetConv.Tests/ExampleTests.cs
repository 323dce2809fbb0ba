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
            Assert.Matches(@"model\.onnx \(\d+ KiB, ONNX opset 13\); ONNX Runtime on the 2,000 test images: max \|difference\| \d\.\de[-+]\d\d, predicted labels identical", stdout);
            Assert.True(new FileInfo(Path.Combine(output, "model.onnx")).Length > 1_000_000, "model.onnx holds the weights");
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
    public void TheModernArchitectureTrainsForAnEpochWithItsReportModelZipAndCurves()
    {
        string output = Directory.CreateTempSubdirectory("mlnetconv-modern").FullName;
        try
        {
            string stdout = Run(["--architecture", "modern", "--epochs", "2", "--output", output]);
            Assert.Contains("random_flip (RandomFlip)", stdout);
            Assert.Contains("Non-trainable params: 448", stdout);
            Assert.Contains("10% of the training images held out for validation", stdout);
            Assert.Contains("reloaded: predictions identical", stdout);
            Assert.Contains("predicted labels identical", stdout);
            double accuracy = double.Parse(TestAccuracy().Match(stdout).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(accuracy > 0.5, $"test accuracy {accuracy} after two epochs of the modern CNN (chance is 0.1)");
            using var curves = SKBitmap.Decode(Path.Combine(output, "training-curves.png"));
            Assert.True(curves is { Width: > 1000 }, "the curves have a third panel, the learning rate");
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Theory]
    [InlineData("--epochs zero", "error: --epochs needs a whole number; got 'zero'. (FashionMnist --help lists the options)")]
    [InlineData("--batch 0", "error: --batch needs a positive number; got 0. (FashionMnist --help lists the options)")]
    [InlineData("--frobnicate", "error: Unknown option --frobnicate. (FashionMnist --help lists the options)")]
    [InlineData("--output", "error: --output needs a value. (FashionMnist --help lists the options)")]
    [InlineData("--architecture resnet", "error: --architecture is textbook or modern; got 'resnet'. (FashionMnist --help lists the options)")]
    [InlineData("--data x --download", "error: Give --data or --download, not both. (FashionMnist --help lists the options)")]
    [InlineData("--download --mirror ftp://example.org/", "error: --mirror needs an http(s) URL; got 'ftp://example.org/'. (FashionMnist --help lists the options)")]
    public void BadArgumentsExitWith2AndOneErrorLine(string arguments, string expected)
    {
        var (code, stdout, stderr) = Start(arguments.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal(expected, SingleLine(stderr));
        Assert.Equal("", stdout);
    }

    [Fact]
    public void HelpPrintsTheUsageAndExits0()
    {
        var (code, stdout, stderr) = Start(["--help"]);
        Assert.Equal(0, code);
        Assert.StartsWith("usage: FashionMnist", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void AMissingDataDirectoryOrFileExitsWith1AndOneErrorLine()
    {
        var (code, _, stderr) = Start(["--data", "/nonexistent/fashion-mnist"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --data /nonexistent/fashion-mnist: no such directory;", SingleLine(stderr));

        string empty = Directory.CreateTempSubdirectory("mlnetconv-nodata").FullName;
        try
        {
            (code, _, stderr) = Start(["--data", empty]);
            Assert.Equal(1, code);
            Assert.Equal($"error: No IDX file at '{Path.Combine(empty, "train-images-idx3-ubyte.gz")}'.", SingleLine(stderr));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public void ADownloadWithNoReachableMirrorExitsWith1AndOneErrorLine()
    {
        // Port 9 (discard) on the loopback: nothing listens, the connection is refused at once, as with no network.
        string cache = Directory.CreateTempSubdirectory("mlnetconv-nocache").FullName;
        try
        {
            var (code, _, stderr) = Start(["--download", "--cache", cache, "--mirror", "http://127.0.0.1:9/"]);
            Assert.Equal(1, code);
            string line = SingleLine(stderr);
            Assert.StartsWith("error: Could not download ", line);
            Assert.Contains("http://127.0.0.1:9/", line);
            Assert.Empty(Directory.GetFileSystemEntries(cache));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void AnUnwritableOutputExitsWith1AndOneErrorLine()
    {
        string file = Path.GetTempFileName();
        try
        {
            var (code, _, stderr) = Start(["--epochs", "1", "--output", Path.Combine(file, "output")]);
            Assert.Equal(1, code);
            Assert.StartsWith("error: ", SingleLine(stderr));
            Assert.Contains(file, stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    // stderr must be exactly one line.
    private static string SingleLine(string stderr)
    {
        string[] lines = stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}:\n{stderr}");
        return lines[0];
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
