namespace MlNetConv.Core.Tensors;

/// <summary>
/// The shape of one sample, without the batch axis: an image (channels, height, width) in the engine's
/// channels-first layout, or a flat vector. A batch of N samples is N × <see cref="Size"/> contiguous floats.
/// </summary>
public readonly record struct Shape
{
    private Shape(int channels, int height, int width, int rank)
    {
        Channels = channels;
        Height = height;
        Width = width;
        Rank = rank;
    }

    /// <summary>Channels of an image shape; the length of a vector shape.</summary>
    public int Channels { get; }

    /// <summary>Rows of an image; 1 for a vector.</summary>
    public int Height { get; }

    /// <summary>Columns of an image; 1 for a vector.</summary>
    public int Width { get; }

    /// <summary>3 for (C, H, W) images, 1 for vectors.</summary>
    public int Rank { get; }

    /// <summary>Number of floats in one sample.</summary>
    public int Size => checked(Channels * Height * Width);

    /// <summary>An image shape (C, H, W); every axis must be at least 1.</summary>
    public static Shape Image(int channels, int height, int width)
    {
        if (channels < 1 || height < 1 || width < 1)
            throw new ArgumentException($"An image shape needs positive sizes; got ({channels}, {height}, {width}).");
        if ((long)channels * height * width > int.MaxValue)
            throw new ArgumentException($"The image shape ({channels}, {height}, {width}) has more than {int.MaxValue} elements.");
        return new Shape(channels, height, width, 3);
    }

    /// <summary>A vector shape of the given length (at least 1).</summary>
    public static Shape Vector(int length)
    {
        if (length < 1) throw new ArgumentException($"A vector shape needs a positive length; got {length}.");
        return new Shape(length, 1, 1, 1);
    }

    /// <summary>Keras-style text with the batch axis: "(None, 32, 28, 28)" or "(None, 100)".</summary>
    public string ToBatchString() => Rank == 3 ? $"(None, {Channels}, {Height}, {Width})" : $"(None, {Channels})";

    /// <inheritdoc />
    public override string ToString() => Rank == 3 ? $"({Channels}, {Height}, {Width})" : $"({Channels})";
}
