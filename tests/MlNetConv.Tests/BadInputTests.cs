using System.IO.Compression;
using Microsoft.ML;

namespace MlNetConv.Tests;

public class BadInputTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static IEstimator<ITransformer> Pipeline(ConvNetOptions? options = null) =>
        Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.MulticlassClassification.Trainers.ConvNet(options ?? EstimatorConventionTests.Small()));

    [Fact]
    public void AnEmptyTrainingSetIsRefused()
    {
        var keys = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(EstimatorConventionTests.InMemory(10));
        IDataView empty = keys.Transform(Ml.Data.LoadFromEnumerable(Array.Empty<EstimatorConventionTests.VectorRow>()));
        var error = Assert.ThrowsAny<Exception>(() => Ml.MulticlassClassification.Trainers.ConvNet(EstimatorConventionTests.Small()).Fit(empty));
        Assert.Contains("no rows", error.Message);
    }

    [Fact]
    public void NonFiniteFeaturesNameTheRow()
    {
        var rows = Enumerable.Range(0, 5).Select(i => new EstimatorConventionTests.VectorRow { Features = new float[784], Label = i % 2 == 0 ? "a" : "b" }).ToArray();
        rows[3].Features[10] = float.NaN;
        var error = Assert.Throws<InvalidOperationException>(() => Pipeline().Fit(Ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("row 3", error.Message);
        Assert.Contains("NaN", error.Message);
    }

    [Fact]
    public void AValidationLabelUnseenInTrainingIsNamed()
    {
        IDataView train = EstimatorConventionTests.InMemory(40, label: i => i % 2 == 0 ? "even" : "odd");
        var keys = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        IDataView validation = keys.Transform(EstimatorConventionTests.InMemory(5, label: _ => "neither"));
        var options = EstimatorConventionTests.Small();
        options.Layers = [new Core.Layers.Flatten(), new Core.Layers.Dense(2, Core.Layers.Activation.Softmax)];
        options.ValidationData = validation;
        var error = Assert.Throws<InvalidOperationException>(() => Ml.MulticlassClassification.Trainers.ConvNet(options).Fit(keys.Transform(train)));
        Assert.Contains("Validation row 0", error.Message);
        Assert.Contains("missing (key 0)", error.Message);
    }

    [Fact]
    public void AnArchitectureWhoseOutputDoesNotMatchTheClassesIsNamed()
    {
        var options = EstimatorConventionTests.Small();
        options.Layers = [new Core.Layers.Flatten(), new Core.Layers.Dense(3, Core.Layers.Activation.Softmax)];
        var error = Assert.ThrowsAny<ArgumentException>(() => Pipeline(options).Fit(EstimatorConventionTests.InMemory(100)));
        Assert.Contains("10 classes", error.Message);
        Assert.Contains("3", error.Message);
    }

    [Fact]
    public void DamagedModelZipsGiveClearErrors()
    {
        var model = Pipeline().Fit(EstimatorConventionTests.InMemory(100));
        IDataView data = EstimatorConventionTests.InMemory(4);
        using var saved = new MemoryStream();
        Ml.Model.Save(model, data.Schema, saved);
        byte[] zip = saved.ToArray();

        // Truncated: the zip itself is unreadable.
        Assert.ThrowsAny<Exception>(() => Ml.Model.Load(new MemoryStream(zip[..(zip.Length / 2)]), out _));

        // The network entry damaged inside an intact zip.
        byte[] tampered = Rewrite(zip, "Network.bin", bytes => bytes[bytes.Length / 2] ^= 0x10);
        var error = Assert.ThrowsAny<Exception>(() => Ml.Model.Load(new MemoryStream(tampered), out _));
        Assert.Contains("corrupted", Flatten(error));

        // The network entry cut short.
        byte[] cut = Rewrite(zip, "Network.bin", null, shorten: 100);
        Assert.Contains("truncated", Flatten(Assert.ThrowsAny<Exception>(() => Ml.Model.Load(new MemoryStream(cut), out _))));

        // Written by a newer MlNetConv: the model header's version is bumped.
        byte[] newer = Rewrite(zip, "Model.key", bytes =>
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(ModelVersionWrittenOffset), 0x00020001u);
            BitConverter.TryWriteBytes(bytes.AsSpan(ModelVersionWrittenOffset + 4), 0x00020001u);
        }, entryFilter: IsCnnModelKey);
        string message = Flatten(Assert.ThrowsAny<Exception>(() => Ml.Model.Load(new MemoryStream(newer), out _)));
        Assert.Contains("Update MlNetConv to load it", message);
    }

    // ML.NET's ModelHeader: ModelVerWritten at 0x48, ModelVerReadable right after it.
    private const int ModelVersionWrittenOffset = 0x48;

    private static bool IsCnnModelKey(ZipArchiveEntry entry, byte[] bytes) =>
        entry.FullName.EndsWith("Model.key", StringComparison.Ordinal) && System.Text.Encoding.ASCII.GetString(bytes).Contains("MLNCCNNT");

    private static string Flatten(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Flatten(e.InnerException);

    private static byte[] Rewrite(byte[] zip, string entryName, Action<byte[]>? change, int shorten = 0, Func<ZipArchiveEntry, byte[], bool>? entryFilter = null)
    {
        using var input = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in input.Entries)
            {
                using var source = entry.Open();
                using var buffer = new MemoryStream();
                source.CopyTo(buffer);
                byte[] bytes = buffer.ToArray();
                bool target = entryFilter?.Invoke(entry, bytes) ?? entry.FullName.EndsWith(entryName, StringComparison.Ordinal);
                if (target)
                {
                    change?.Invoke(bytes);
                    if (shorten > 0) bytes = bytes[..^shorten];
                }
                using var destination = archive.CreateEntry(entry.FullName).Open();
                destination.Write(bytes);
            }
        }
        return output.ToArray();
    }
}
