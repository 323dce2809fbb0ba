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

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SameFollowsKerasExactly(int input, int kernel, int stride)
    {
        var axis = WindowAxis.Create(input, kernel, stride, Padding.Same);
        // Keras conv_test._same_padding and compute_conv_output_shape.
        int total = input % stride == 0 ? Math.Max(kernel - stride, 0) : Math.Max(kernel - input % stride, 0);
        Assert.Equal((int)Math.Ceiling(input / (double)stride), axis.Output);
        Assert.Equal(total / 2, axis.PadBefore);
        Assert.Equal(total - total / 2, axis.PadAfter);
        // Every output position's window starts inside the padded input and ends inside it.
        Assert.True((axis.Output - 1) * stride + kernel <= input + axis.PadBefore + axis.PadAfter);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ValidAndFullFollowTheFormula(int input, int kernel, int stride)
    {
        if (kernel <= input)
            Assert.Equal((input - kernel) / stride + 1, WindowAxis.Create(input, kernel, stride, Padding.Valid).Output);
        else
            Assert.Throws<ArgumentException>(() => WindowAxis.Create(input, kernel, stride, Padding.Valid));
        var full = WindowAxis.Create(input, kernel, stride, Padding.Full);
        Assert.Equal((input + 2 * (kernel - 1) - kernel) / stride + 1, full.Output);
        Assert.Equal(kernel - 1, full.PadBefore);
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
