using MlNetConv.Core.Data;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

/// <summary>Datasets kept as floats or as bytes read back exactly what they were given.</summary>
public class DatasetTests
{
    private static readonly Shape Sample = Shape.Image(1, 2, 3);

    [Fact]
    public void PixelsReadBackAsTheFloatsOfConvertingAndDividing()
    {
        byte[] pixels = Enumerable.Range(0, 256 * 6).Select(i => (byte)(i * 7)).ToArray();
        var data = Dataset.FromPixels(pixels, new int[256], Sample);
        Assert.True(data.IsCompact);
        float[] expected = pixels.Select(p => (float)p / 255f).ToArray();
        Assert.Equal(expected, data.SamplesToArray(0, 256));
        Assert.Equal(expected.AsSpan(6 * 10, 6 * 3).ToArray(), data.Slice(10, 3).SamplesToArray(0, 3));
        Assert.True(data.Slice(10, 3).IsCompact);
    }

    [Theory]
    [InlineData("divided")]
    [InlineData("multiplied")] // ML.NET's ExtractPixels scales by 1/255: other floats for some pixels, still 256 of them
    public void BuilderKeepsPixelGridValuesAsBytesAndExact(string scaling)
    {
        var random = new Random(1);
        var builder = new DatasetBuilder(Sample, expectedCount: 2); // grows several times
        var added = new List<float[]>();
        for (int n = 0; n < 100; n++)
        {
            float[] sample = Enumerable.Range(0, 6).Select(_ => random.Next(256))
                .Select(p => scaling == "divided" ? p / 255f : p * (1f / 255f)).ToArray();
            added.Add(sample);
            builder.Add(sample, n % 10);
        }
        var data = builder.Build();
        Assert.True(data.IsCompact);
        Assert.Equal(100, data.Count);
        Assert.Equal(added.SelectMany(s => s).ToArray(), data.SamplesToArray(0, 100));
        Assert.Equal(Enumerable.Range(0, 100).Select(n => n % 10).ToArray(), data.Labels);
    }

    [Theory]
    [InlineData(1.5f)]      // outside [0, 1]
    [InlineData(-0.25f)]
    [InlineData(0.3f)]      // rounds to code 77, which 77/255 took first, but differs from it
    public void BuilderFallsBackToFloatsWhenBytesWouldLoseAnything(float odd)
    {
        var builder = new DatasetBuilder(Sample);
        float[] first = [0f, 77 / 255f, 1f, 0.5f, 0f, 1f], second = [0f, 0f, odd, 0f, 0f, 0f];
        builder.Add(first, 1);
        builder.Add(second, 2);
        builder.Add(first, 3);
        var data = builder.Build();
        Assert.False(data.IsCompact);
        Assert.Equal(first.Concat(second).Concat(first).ToArray(), data.SamplesToArray(0, 3));
        Assert.Equal([1, 2, 3], data.Labels);
    }

    [Fact]
    public void WrongSizesAndRangesAreRefused()
    {
        var builder = new DatasetBuilder(Sample);
        Assert.Throws<ArgumentException>(() => builder.Add(new float[5], 0));
        var data = Dataset.FromPixels(new byte[12], new int[2], Sample);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.SamplesToArray(1, 2));
        Assert.Throws<ArgumentException>(() => Dataset.FromPixels(new byte[13], new int[2], Sample));
    }
}
