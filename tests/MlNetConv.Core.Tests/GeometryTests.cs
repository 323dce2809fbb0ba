using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Tests;

public class GeometryTests
{
    public static TheoryData<int, int, int> Sizes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int input in new[] { 1, 2, 5, 6, 7, 28 })
            foreach (int kernel in new[] { 1, 2, 3, 4, 5 })
                foreach (int stride in new[] { 1, 2, 3 })
                    data.Add(input, kernel, stride);
        return data;
    }

    // Keras "same": output ceil(input / stride); total padding max((output - 1)·stride + kernel - input, 0), the odd
    // row/column at the bottom/right (before = total / 2). Each row worked by hand from that rule:
    [Theory]
    [InlineData(28, 3, 1, 28, 1, 1)]   // 27·1 + 3 - 28 = 2
    [InlineData(5, 2, 2, 3, 0, 1)]     // 2·2 + 2 - 5 = 1: the extra column goes after
    [InlineData(4, 3, 2, 2, 0, 1)]     // 1·2 + 3 - 4 = 1
    [InlineData(28, 3, 2, 14, 0, 1)]   // 13·2 + 3 - 28 = 1
    [InlineData(7, 3, 2, 4, 1, 1)]     // 3·2 + 3 - 7 = 2
    [InlineData(6, 2, 2, 3, 0, 0)]     // 2·2 + 2 - 6 = 0
    [InlineData(7, 2, 2, 4, 0, 1)]     // 3·2 + 2 - 7 = 1 (MaxPooling2D(2, padding: same) on 7)
    [InlineData(10, 4, 1, 10, 1, 2)]   // 9 + 4 - 10 = 3
    [InlineData(5, 5, 1, 5, 2, 2)]     // 4 + 5 - 5 = 4
    [InlineData(1, 3, 1, 1, 1, 1)]     // 0 + 3 - 1 = 2: a window larger than the input
    [InlineData(2, 4, 3, 1, 1, 1)]     // 0 + 4 - 2 = 2
    [InlineData(6, 4, 3, 2, 0, 1)]     // 3 + 4 - 6 = 1
    [InlineData(7, 1, 3, 3, 0, 0)]     // 2·3 + 1 - 7 = 0
    [InlineData(28, 5, 3, 10, 2, 2)]   // 9·3 + 5 - 28 = 4
    public void SameMatchesKerasOutputSizesAndPads(int input, int kernel, int stride, int output, int before, int after)
    {
        var axis = WindowAxis.Create(input, kernel, stride, Padding.Same);
        Assert.Equal((output, before, after), (axis.Output, axis.PadBefore, axis.PadAfter));
    }

    // Keras "valid": floor((input - kernel) / stride) + 1, no padding.
    [Theory]
    [InlineData(28, 3, 1, 26)]
    [InlineData(7, 3, 2, 3)]
    [InlineData(28, 3, 2, 13)]
    [InlineData(5, 2, 2, 2)]
    [InlineData(7, 2, 2, 3)]           // MaxPooling2D(2) on 7
    [InlineData(28, 2, 2, 14)]         // MaxPooling2D(2) on 28
    [InlineData(6, 4, 3, 1)]
    [InlineData(5, 5, 1, 1)]
    [InlineData(28, 5, 3, 8)]
    public void ValidMatchesKerasOutputSizes(int input, int kernel, int stride, int output)
    {
        var axis = WindowAxis.Create(input, kernel, stride, Padding.Valid);
        Assert.Equal((output, 0, 0), (axis.Output, axis.PadBefore, axis.PadAfter));
    }

    [Theory]
    [InlineData(2, 3, 1)]
    [InlineData(1, 2, 1)]
    [InlineData(4, 5, 2)]
    public void ValidRefusesAWindowLargerThanTheInput(int input, int kernel, int stride)
    {
        var error = Assert.Throws<ArgumentException>(() => WindowAxis.Create(input, kernel, stride, Padding.Valid));
        Assert.Contains(kernel.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    // "Full" (the course's full cross-correlation): kernel - 1 zeros on each side, output (input + kernel - 2) / stride + 1.
    [Theory]
    [InlineData(28, 3, 1, 30, 2)]
    [InlineData(5, 2, 2, 3, 1)]
    [InlineData(4, 3, 1, 6, 2)]
    [InlineData(3, 3, 1, 5, 2)]
    public void FullPadsKernelMinusOneOnEachSide(int input, int kernel, int stride, int output, int pad)
    {
        var axis = WindowAxis.Create(input, kernel, stride, Padding.Full);
        Assert.Equal((output, pad, pad), (axis.Output, axis.PadBefore, axis.PadAfter));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EveryWindowLiesInsideThePaddedInput(int input, int kernel, int stride)
    {
        foreach (var padding in new[] { Padding.Same, Padding.Full, Padding.Valid })
        {
            if (padding == Padding.Valid && kernel > input) continue;
            var axis = WindowAxis.Create(input, kernel, stride, padding);
            Assert.True(axis.Output >= 1);
            Assert.True((axis.Output - 1) * stride + kernel <= input + axis.PadBefore + axis.PadAfter, $"{padding}: the last window runs past the padding");
            Assert.True(axis.Output * stride + kernel > input + axis.PadBefore + axis.PadAfter,
                $"{padding}: another whole window would fit, so an output position is missing");
        }
    }

    [Theory]
    [InlineData(28, 28, 3, 1, Padding.Same, 28, 28)]
    [InlineData(28, 28, 3, 1, Padding.Valid, 26, 26)]
    [InlineData(28, 28, 3, 2, Padding.Same, 14, 14)]
    [InlineData(28, 28, 3, 2, Padding.Valid, 13, 13)]
    [InlineData(7, 6, 2, 2, Padding.Same, 4, 3)]
    [InlineData(7, 6, 2, 2, Padding.Valid, 3, 3)]
    [InlineData(10, 10, 4, 1, Padding.Same, 10, 10)]
    public void LayersReportKerasOutputShapes(int h, int w, int k, int s, Padding padding, int oh, int ow)
    {
        var conv = new Conv2D(8, k, s, padding);
        Assert.Equal(Shape.Image(8, oh, ow), conv.ComputeOutputShape(Shape.Image(3, h, w)));
        var pool = new MaxPooling2D(k, s, padding);
        Assert.Equal(Shape.Image(3, oh, ow), pool.ComputeOutputShape(Shape.Image(3, h, w)));
    }
}
