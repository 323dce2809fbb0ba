using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Data;

/// <summary>
/// Fashion-MNIST (Zalando, MIT licence): 28×28 grayscale product photos in ten classes, in the four standard IDX files.
/// Pixels are scaled to [0, 1] as the textbook divides by 255.
/// </summary>
public static class FashionMnist
{
    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>One image: (1, 28, 28).</summary>
    public static Shape ImageShape { get; } = Shape.Image(1, 28, 28);

    /// <summary>The standard file names of the training and test sets.</summary>
    public static (string Images, string Labels) TrainFiles { get; } = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");

    /// <inheritdoc cref="TrainFiles"/>
    public static (string Images, string Labels) TestFiles { get; } = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");

    /// <summary>Loads the training and test sets from a directory holding the four standard files.</summary>
    public static (Dataset Train, Dataset Test) Load(string directory) =>
        (Load(Path.Combine(directory, TrainFiles.Images), Path.Combine(directory, TrainFiles.Labels)),
         Load(Path.Combine(directory, TestFiles.Images), Path.Combine(directory, TestFiles.Labels)));

    /// <summary>Loads one images/labels pair, checking that they are 28×28 images with matching labels 0..9.</summary>
    public static Dataset Load(string imagesPath, string labelsPath)
    {
        var (imageDims, pixels) = Idx.Read(imagesPath);
        var (labelDims, labelBytes) = Idx.Read(labelsPath);
        if (imageDims.Length != 3 || imageDims[1] != 28 || imageDims[2] != 28)
            throw new InvalidDataException($"{imagesPath}: expected N×28×28 images; the file holds {string.Join("×", imageDims)}.");
        if (labelDims.Length != 1 || labelDims[0] != imageDims[0])
            throw new InvalidDataException($"{labelsPath}: expected {imageDims[0]} labels to match the images; the file holds {string.Join("×", labelDims)}.");
        var labels = new int[labelBytes.Length];
        for (int i = 0; i < labels.Length; i++)
            labels[i] = labelBytes[i] < 10 ? labelBytes[i] : throw new InvalidDataException($"{labelsPath}: label {i} is {labelBytes[i]}; Fashion-MNIST labels are 0..9.");
        return Dataset.FromPixels(pixels, labels, ImageShape);
    }
}
