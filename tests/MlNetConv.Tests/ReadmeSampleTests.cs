using System.Text;
using System.Text.RegularExpressions;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Tests;

/// <summary>
/// Every C# block in README.md is a sample program under examples/Samples, byte for byte: the solution build compiles
/// them and build/consumer-test runs them against the packages, so what a reader copies is what was built and run.
/// A block says which file it is on the line above its fence: <c>&lt;!-- sample: examples/Samples/X/Program.cs --&gt;</c>.
/// </summary>
public partial class ReadmeSampleTests
{
    [Fact]
    public void EveryCSharpBlockInTheReadmeIsItsSampleFileByteForByte()
    {
        string root = RepositoryRoot();
        var blocks = ReadmeSamples(File.ReadAllText(Path.Combine(root, "README.md")));
        Assert.NotEmpty(blocks);
        foreach (var (path, text) in blocks)
        {
            string file = Path.Combine(root, path);
            Assert.True(File.Exists(file), $"README.md shows {path}, which does not exist.");
            byte[] expected = File.ReadAllBytes(file), actual = Encoding.UTF8.GetBytes(text);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"README.md's block for {path} differs from the file. {FirstDifference(File.ReadAllText(file), text)}");
        }
    }

    [Fact]
    public void EverySampleProgramIsShownInTheReadme()
    {
        string root = RepositoryRoot();
        var shown = ReadmeSamples(File.ReadAllText(Path.Combine(root, "README.md"))).Select(b => b.Path).ToHashSet();
        string[] samples = Directory.GetFiles(Path.Combine(root, "examples", "Samples"), "Program.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Order().ToArray();
        Assert.Subset(samples.ToHashSet(), new HashSet<string> { "examples/Samples/Engine/Program.cs", "examples/Samples/Pipeline/Program.cs", "examples/Samples/Worker/Program.cs" });
        Assert.All(samples, s => Assert.Contains(s, shown));
    }

    [Fact]
    public void TheCheckSeesAChangedCharacterAndAnUnmarkedBlock()
    {
        const string file = "var x = 1;\nConsole.WriteLine(x);\n";
        var blocks = ReadmeSamples("text\n<!-- sample: a/Program.cs -->\n```csharp\nvar x = 1;\nConsole.WriteLine(x) ;\n```\n");
        Assert.Equal("a/Program.cs", Assert.Single(blocks).Path);
        Assert.NotEqual(file, blocks[0].Text);
        Assert.Equal(file, ReadmeSamples("<!-- sample: a/Program.cs -->\n```csharp\n" + file + "```\n")[0].Text);
        var error = Assert.Throws<InvalidDataException>(() => ReadmeSamples("text\n\n```csharp\nvar x = 1;\n```\n"));
        Assert.Contains("line 3", error.Message);
        Assert.Throws<InvalidDataException>(() => ReadmeSamples("<!-- sample: a/Program.cs -->\n```csharp\nvar x = 1;\n"));
    }

    /// <summary>The README's C# blocks with the file each names; a C# block without a sample marker, or unclosed, is an error.</summary>
    internal static List<(string Path, string Text)> ReadmeSamples(string readme)
    {
        if (readme.Contains('\r')) throw new InvalidDataException("README.md has CR characters; the samples are compared with LF line ends.");
        string[] lines = readme.Split('\n');
        var blocks = new List<(string, string)>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!CSharpFence().IsMatch(lines[i])) continue;
            var marker = i > 0 ? SampleMarker().Match(lines[i - 1]) : Match.Empty;
            if (!marker.Success)
                throw new InvalidDataException($"README.md line {i + 1}: a C# block without a '<!-- sample: PATH -->' line above it; keep it as a file under examples/Samples.");
            int end = Array.IndexOf(lines, "```", i + 1);
            if (end < 0) throw new InvalidDataException($"README.md line {i + 1}: the C# block is not closed.");
            blocks.Add((marker.Groups[1].Value, string.Concat(lines[(i + 1)..end].Select(l => l + "\n"))));
            i = end;
        }
        return blocks;
    }

    private static string FirstDifference(string expected, string actual)
    {
        string[] a = expected.Split('\n'), b = actual.Split('\n');
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            if (a[i] != b[i]) return $"First difference on line {i + 1}: file \"{a[i]}\", README \"{b[i]}\".";
        return $"The file has {a.Length} lines, the README block {b.Length}.";
    }

    private static string RepositoryRoot() => Path.GetFullPath(Path.Combine(RepositoryData.SubsetDirectory, "..", ".."));

    [GeneratedRegex(@"^```\s*(csharp|cs|c#)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex CSharpFence();

    [GeneratedRegex(@"^<!-- sample: (\S+) -->$")]
    private static partial Regex SampleMarker();
}
