using MlNetConv.Core.Data;

namespace MlNetConv.Core.Tests;

public class IdxTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteThenReadRoundTrips(bool gzip)
    {
        byte[] values = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        using var stream = new MemoryStream();
        Idx.Write(stream, [2, 3, 4], values, gzip);
        stream.Position = 0;
        var (dims, read) = Idx.Read(stream);
        Assert.Equal([2, 3, 4], dims);
        Assert.Equal(values, read);
    }

    [Fact]
    public void ShippedSubsetHasTheExpectedShape()
    {
        Assert.Equal(10_000, TestData.Train.Count);
        Assert.Equal(2_000, TestData.Test.Count);
        Assert.Equal(Enumerable.Range(0, 10), TestData.Train.Labels.Distinct().Order());
        Assert.InRange(TestData.Train.SamplesToArray(0, TestData.Train.Count).Max(), 0.99f, 1f);
    }

    [Fact]
    public void DamagedFilesGiveClearErrors()
    {
        using var stream = new MemoryStream();
        Idx.Write(stream, [10, 28, 28], new byte[7840], gzip: false);
        byte[] good = stream.ToArray();
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(good, 0, good.Length - 1))).Message);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(good, 0, 6))).Message);
        byte[] badMagic = good.ToArray();
        badMagic[0] = 1;
        Assert.Contains("not IDX", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(badMagic))).Message);
        byte[] floats = good.ToArray();
        floats[2] = 0x0D;
        Assert.Contains("0x0d", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(floats))).Message);
        Assert.Contains("after its", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream([.. good, 1]))).Message);

        using var zipped = new MemoryStream();
        Idx.Write(zipped, [10, 28, 28], new byte[7840], gzip: true);
        byte[] cut = zipped.ToArray()[..^40];
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(cut)));
    }

    [Fact]
    public void MismatchedImageAndLabelFilesAreNamed()
    {
        string dir = Directory.CreateTempSubdirectory("mlnetconv-idx").FullName;
        try
        {
            string images = Path.Combine(dir, "images.gz"), labels = Path.Combine(dir, "labels.gz");
            using (var f = File.Create(images)) Idx.Write(f, [3, 28, 28], new byte[3 * 784], gzip: true);
            using (var f = File.Create(labels)) Idx.Write(f, [2], [1, 2], gzip: true);
            var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(images, labels));
            Assert.Contains("expected 3 labels", error.Message);
            Assert.Contains(Path.Combine(dir, "missing.gz"), Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(Path.Combine(dir, "missing.gz"), labels)).Message);
            string cut = Path.Combine(dir, "cut.gz");
            byte[] whole = File.ReadAllBytes(images);
            File.WriteAllBytes(cut, whole[..(whole.Length / 2)]);
            Assert.StartsWith(cut, Assert.Throws<InvalidDataException>(() => Idx.Read(cut)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
