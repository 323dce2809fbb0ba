using Microsoft.ML.Data;
using MlNetConv;

// The ML.NET convention: catalog extensions live in Microsoft.ML, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>MlNetConv's entry points on ML.NET's catalogs.</summary>
public static class ConvNetCatalog
{
    /// <summary>
    /// A convolutional network trained from scratch, the textbook CNN by default. Input: a known-size Single vector
    /// feature column (C·H·W, channels first; ExtractPixels after ConvertToGrayscale with <c>colorsToExtract: ColorBits.Red</c>
    /// and <c>scaleImage: 1f / 255</c> gives the textbook's input) and a key label. Output: Score and PredictedLabel.
    /// </summary>
    public static ConvNetTrainer ConvNet(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ConvNetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ConvNetTrainer(CatalogUtils.GetEnvironment(catalog), options ?? new ConvNetOptions());
    }

    /// <summary>The same, with the usual settings as arguments.</summary>
    public static ConvNetTrainer ConvNet(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int epochs = 20, int batchSize = 32, int seed = 42) =>
        catalog.ConvNet(new ConvNetOptions
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            Epochs = epochs,
            BatchSize = batchSize,
            Seed = seed,
        });

    /// <summary>
    /// The activations of layer <paramref name="layerName"/> of a trained CNN as the column <paramref name="outputColumnName"/>:
    /// feature maps (Vector&lt;Single, C, H, W&gt;) of a Conv2D or pooling layer for visualisation, or a flat layer's values as an
    /// embedding. The input column defaults to the one the CNN was trained on.
    /// </summary>
    public static FeatureMapEstimator ConvNetFeatureMaps(this TransformsCatalog catalog, ConvNetTransformer trainedModel, string layerName,
        string outputColumnName, string? inputColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(trainedModel);
        return new FeatureMapEstimator(CatalogUtils.GetEnvironment(catalog), trainedModel.Engine, layerName, outputColumnName,
            inputColumnName ?? trainedModel.FeatureColumnName);
    }
}
