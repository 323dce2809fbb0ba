using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetConv.Tests;

/// <summary>Missing and corrupt image files, read by LoadImages upstream of the CNN: the error names the row and the file.</summary>
public sealed class BadImageTests : IDisposable
{
    private static readonly byte[] NotAPng = [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3];

    private readonly ImageFolders images = new();
    private readonly MLContext ml = new(seed: 1);

    public void Dispose() => images.Dispose();

    private static string PathInRow(string index, int row) => File.ReadAllLines(index)[row].Split('\t')[0];

    private ITransformer Fit(string index) =>
        TrainedPipeline.CreatePipeline(ml, images.Root, EstimatorConventionTests.Small()).Fit(ml.Data.LoadFromTextFile<ImageRow>(index, separatorChar: '\t'));

    [Fact]
    public void ACorruptImageInFitNamesTheRowAndTheFile()
    {
        string bad = PathInRow(images.Train, 700);
        File.WriteAllBytes(Path.Combine(images.Root, bad), NotAPng);
        var error = Assert.Throws<InvalidDataException>(() => Fit(images.Train));
        Assert.Equal($"Training row 700 (ImagePath '{bad}'): the image could not be read: Invalid input stream contents.", error.Message);
    }

    [Fact]
    public void AMissingImageInFitNamesTheRowAndTheFile()
    {
        string bad = PathInRow(images.Train, 321);
        File.Delete(Path.Combine(images.Root, bad));
        var error = Assert.Throws<InvalidDataException>(() => Fit(images.Train));
        Assert.Equal($"Training row 321 (ImagePath '{bad}'): the image could not be read: Could not find file '{Path.Combine(images.Root, bad)}'.", error.Message);
    }

    [Fact]
    public void ABadImageInTransformNamesTheRowAndTheFile()
    {
        ITransformer model = Fit(images.Test);
        // The test index again, with row 150 (in the second scoring batch) pointing at a corrupt copy and row 260 at no file.
        string[] lines = File.ReadAllLines(images.Test);
        string corrupt = "test/corrupt.png", missing = "test/missing.png";
        File.WriteAllBytes(Path.Combine(images.Root, corrupt), NotAPng);
        lines[150] = $"{corrupt}\t{lines[150].Split('\t')[1]}";
        lines[260] = $"{missing}\t{lines[260].Split('\t')[1]}";
        string index = Path.Combine(images.Root, "bad-test.tsv");
        File.WriteAllLines(index, lines);
        IDataView data = ml.Data.LoadFromTextFile<ImageRow>(index, separatorChar: '\t');

        var error = Assert.Throws<InvalidDataException>(() => model.Transform(data).GetColumn<float[]>("Score").Count());
        Assert.Equal($"Row 150 (ImagePath '{corrupt}'): the image could not be read: Invalid input stream contents.", error.Message);

        File.Copy(Path.Combine(images.Root, PathInRow(images.Test, 150)), Path.Combine(images.Root, corrupt), overwrite: true);
        error = Assert.Throws<InvalidDataException>(() => ml.MulticlassClassification.Evaluate(model.Transform(data)));
        Assert.Equal($"Row 260 (ImagePath '{missing}'): the image could not be read: Could not find file '{Path.Combine(images.Root, missing)}'.", error.Message);
    }
}
