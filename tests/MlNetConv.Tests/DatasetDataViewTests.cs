using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MlNetConv.Core.Data;
using MlNetConv.Data;

namespace MlNetConv.Tests;

public class DatasetDataViewTests
{
    private static readonly MLContext Ml = new(seed: 1);

    [Fact]
    public void ServesFeaturesAsImagesAndLabelsAsNamedKeys()
    {
        var data = TestData.Test.Slice(0, 50);
        var view = new DatasetDataView(data, FashionMnist.ClassNames);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28), view.Schema["Features"].Type);
        Assert.Equal(new KeyDataViewType(typeof(uint), 10), view.Schema["Label"].Type);
        Assert.Equal(50, view.GetRowCount());
        float[][] features = view.GetColumn<float[]>("Features").ToArray();
        for (int i = 0; i < 50; i++) Assert.Equal(data.SamplesToArray(i, 1), features[i]);
        string[] names = Ml.Transforms.Conversion.MapKeyToValue("Name", "Label").Fit(view).Transform(view).GetColumn<string>("Name").ToArray();
        Assert.Equal(data.Labels.Select(l => FashionMnist.ClassNames[l]), names);
    }

    [Fact]
    public void RefusesLabelsWithoutANameByIndex()
    {
        var error = Assert.Throws<ArgumentException>(() => new DatasetDataView(TestData.Test.Slice(0, 20), ["a", "b"]));
        Assert.Contains("only 2 class names", error.Message);
    }

    [Fact]
    public void PngExportReadsBackThroughTheImagePipelineUnchanged()
    {
        string root = Directory.CreateTempSubdirectory("mlnetconv-export").FullName;
        try
        {
            var data = TestData.Test.Slice(0, 40);
            string index = Path.Combine(root, "index.tsv");
            FashionMnistData.ExportPngFolders(data, FashionMnist.ClassNames, Path.Combine(root, "images"), index);
            // One file per image, in its class's folder ("T-shirt/top" made safe as "T-shirt-top"), listed in order in the index.
            string[] lines = File.ReadAllLines(index);
            Assert.Equal(data.Count, lines.Length);
            Assert.Equal(data.Count, Directory.GetFiles(Path.Combine(root, "images"), "*.png", SearchOption.AllDirectories).Length);
            for (int i = 0; i < data.Count; i++)
            {
                string className = FashionMnist.ClassNames[data.Labels[i]];
                string relative = $"images/{className.Replace('/', '-')}/{i:D5}.png";
                Assert.Equal($"{relative}\t{className}", lines[i]);
                Assert.True(File.Exists(Path.Combine(root, relative)), $"{relative} was not written");
            }
            int tShirt = Array.IndexOf(data.Labels, 0);
            Assert.True(tShirt >= 0, "the slice has no T-shirt/top, so the folder-name rule is not exercised");
            Assert.True(File.Exists(Path.Combine(root, "images", "T-shirt-top", $"{tShirt:D5}.png")));
            IDataView files = Ml.Data.LoadFromTextFile<ImageRow>(index, separatorChar: '\t');
            var pixels = Ml.Transforms.LoadImages("Image", root, "ImagePath")
                .Append(Ml.Transforms.ConvertToGrayscale("Image"))
                .Append(Ml.Transforms.ResizeImages("Image", 28, 28))
                .Append(Ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255));
            var rows = pixels.Fit(files).Transform(files);
            float[][] read = rows.GetColumn<float[]>("Features").ToArray();
            string[] labels = rows.GetColumn<string>("Label").ToArray();
            for (int i = 0; i < data.Count; i++)
            {
                Assert.Equal(FashionMnist.ClassNames[data.Labels[i]], labels[i]);
                for (int p = 0; p < 784; p++) Assert.Equal(data.SamplesToArray(i, 1)[p], read[i][p], 1e-6f);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
