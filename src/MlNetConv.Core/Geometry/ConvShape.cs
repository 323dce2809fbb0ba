namespace MlNetConv.Core.Geometry;

/// <summary>
/// The sizes of one 2-D convolution, with the letters used across the kernels:
/// C input channels, K filters, H×W input, R×S window, OH×OW output.
/// Weights are (K, C, R, S); one image's im2col matrix is (C·R·S) × (OH·OW).
/// </summary>
public readonly record struct ConvShape(int InputChannels, int Filters, Window2D Window)
{
    /// <summary>The shape for an input of C×H×W, K filters of R×S, the given strides and padding.</summary>
    public static ConvShape Create(int inputChannels, int height, int width, int filters,
        int kernelHeight, int kernelWidth, int strideRows, int strideColumns, Padding padding)
    {
        if (inputChannels < 1) throw new ArgumentException($"The input needs at least one channel; got {inputChannels}.", nameof(inputChannels));
        if (filters < 1) throw new ArgumentException($"A convolution needs at least one filter; got {filters}.", nameof(filters));
        return new ConvShape(inputChannels, filters,
            Window2D.Create(height, width, kernelHeight, kernelWidth, strideRows, strideColumns, padding));
    }

    /// <summary>C·H·W floats of one input image.</summary>
    public int InputSize => InputChannels * Window.InputArea;

    /// <summary>K·OH·OW floats of one output image.</summary>
    public int OutputSize => Filters * Window.OutputArea;

    /// <summary>C·R·S: the length of one receptive field, the reduction length of the forward product.</summary>
    public int PatchSize => InputChannels * Window.WindowArea;

    /// <summary>K·C·R·S weights.</summary>
    public int WeightCount => Filters * PatchSize;

    /// <summary>(C·R·S)·(OH·OW) floats of one image's im2col matrix.</summary>
    public int ColumnsSize => PatchSize * Window.OutputArea;
}
