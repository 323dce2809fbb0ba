using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using MlNetConv.Core.Layers;

namespace MlNetConv.Tests;

[Collection(nameof(TrainedPipeline))]
public class ScoringTests(TrainedPipeline trained)
{
    [Fact]
    public void BatchedTransformEqualsRowByRowScoringBitForBit()
    {
        IDataView features = TrainedPipeline.Preprocessing(trained.Ml, trained.Images.Root).Fit(trained.Train).Transform(trained.Test);
        IDataView batched = trained.Cnn.Transform(features);
        Assert.Equal("BatchScoringDataView", batched.GetType().Name);
        float[] fromBatches = batched.GetColumn<float[]>("Score").SelectMany(s => s).ToArray();

        // The row mapper is what PredictionEngine uses: one row at a time.
        var mapper = ((ITransformer)trained.Cnn).GetRowToRowMapper(features.Schema);
        var scores = new List<float>();
        using (var cursor = features.GetRowCursor(features.Schema))
        using (var row = mapper.GetRow(cursor, mapper.OutputSchema))
        {
            var getter = row.GetGetter<VBuffer<float>>(mapper.OutputSchema["Score"]);
            VBuffer<float> value = default;
            while (cursor.MoveNext())
            {
                getter(ref value);
                scores.AddRange(value.DenseValues());
            }
        }
        Assert.Equal(trained.Images.TestCount * 10, fromBatches.Length);
        Assert.True(fromBatches.AsSpan().SequenceEqual(scores.ToArray()), "batched and row-by-row scores differ");
    }

    [Fact]
    public void TheScoringViewSavesAndLoadsAsAnMlNetDataTransform()
    {
        IDataView features = TrainedPipeline.Preprocessing(trained.Ml, trained.Images.Root).Fit(trained.Train).Transform(trained.Test);
        var view = (IDataTransform)trained.Cnn.Transform(features);
        Assert.Same(features, view.Source);

        IHostEnvironment env = trained.Ml;
        using var stream = new MemoryStream();
        using (var repository = RepositoryWriter.CreateNew(stream, env))
        {
            ModelSaveContext.SaveModel(repository, view, "View");
            repository.Commit();
        }
        stream.Position = 0;
        using var reader = RepositoryReader.Open(stream, env);
        ModelLoadContext.LoadModel<IDataTransform, SignatureLoadDataTransform>(env, out IDataTransform loaded, reader, "View", features);

        Assert.Equal(view.GetColumn<float[]>("Score").SelectMany(s => s), loaded.GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void TheNetworkViewIsReadOnlyAndThreadsDoNotChangeScores()
    {
        IDataView features = TrainedPipeline.Preprocessing(trained.Ml, trained.Images.Root).Fit(trained.Train).Transform(trained.Test);
        float[] Scores() => trained.Cnn.Transform(features).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        float[] before = Scores();

        NetworkInfo network = trained.Cnn.Network;
        Assert.Contains("Total params: 333,526", network.Summary());
        Assert.Equal(["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dropout", "dense_1"], network.Layers.Select(l => l.Name));
        Assert.Equal(320, network.GetLayer("conv2d").ParameterCount);
        Assert.Equal(Core.Tensors.Shape.Image(64, 14, 14), network.GetLayer("conv2d_1").OutputShape);
        Array.Fill(network.GetLayer("conv2d").GetWeights(), 0f);          // a copy
        Layer blank = network.GetLayer("conv2d_1").CloneConfiguration();  // the configuration alone, for another model
        Assert.True(blank is Conv2D { Filters: 64, IsBuilt: false, Name: "conv2d_1" });
        var copy = network.CopyNetwork();
        copy.GetLayer("dense_1").SetWeights(new float[copy.GetLayer("dense_1").ParameterCount]); // an independent model
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => network.GetLayer("nope")).Message);

        int threads = trained.Cnn.Threads;
        try
        {
            trained.Cnn.Threads = 1;
            Assert.Equal(before, Scores());
        }
        finally
        {
            trained.Cnn.Threads = threads;
        }
        Assert.Equal(before, Scores());
    }

    [Fact]
    public void FeatureMapsComeOutShapedAndEqualTheEngine()
    {
        IDataView features = TrainedPipeline.Preprocessing(trained.Ml, trained.Images.Root).Fit(trained.Train).Transform(trained.Test);
        var maps = trained.Ml.Transforms.ConvNetFeatureMaps(trained.Cnn, "conv2d_1", "Maps").Fit(features);
        IDataView output = maps.Transform(features);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 64, 14, 14), output.Schema["Maps"].Type);

        float[] first = output.GetColumn<float[]>("Maps").First();
        float[] input = features.GetColumn<float[]>("Features").First();
        Assert.Equal(trained.Cnn.Network.CopyNetwork().PredictLayer(input, "conv2d_1"), first);

        var embedding = trained.Ml.Transforms.ConvNetFeatureMaps(trained.Cnn, "dense", "Embedding").Fit(features).Transform(features);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 100), embedding.Schema["Embedding"].Type);

        using var stream = new MemoryStream();
        trained.Ml.Model.Save(maps, features.Schema, stream);
        stream.Position = 0;
        ITransformer loaded = trained.Ml.Model.Load(stream, out _);
        Assert.Equal(first, loaded.Transform(features).GetColumn<float[]>("Maps").First());
        Assert.Contains("No layer named 'conv9'",
            Assert.Throws<ArgumentException>(() => trained.Ml.Transforms.ConvNetFeatureMaps(trained.Cnn, "conv9", "Maps")).Message);
    }

    [Fact]
    public void InMemoryImagesScoreLikeFiles()
    {
        string[] paths = trained.Ml.Data.CreateEnumerable<ImageRow>(trained.Test, reuseRowObject: false).Take(8).Select(r => r.ImagePath).ToArray();
        var images = paths.Select(p => new InMemoryRow { Image = MLImage.CreateFromFile(Path.Combine(trained.Images.Root, p)) }).ToArray();
        var pipeline = trained.Ml.Transforms.ConvertToGrayscale("Image")
            .Append(trained.Ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(trained.Ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255));
        IDataView data = trained.Ml.Data.LoadFromEnumerable(images);
        float[][] fromMemory = trained.Cnn.Transform(pipeline.Fit(data).Transform(data)).GetColumn<float[]>("Score").ToArray();
        float[][] fromFiles = trained.Model.Transform(trained.Test).GetColumn<float[]>("Score").Take(8).ToArray();
        Assert.Equal(fromFiles, fromMemory);
        foreach (var image in images) image.Image.Dispose();
    }

    public sealed class InMemoryRow
    {
        [ImageType(28, 28)]
        public MLImage Image { get; set; } = null!;
    }
}
