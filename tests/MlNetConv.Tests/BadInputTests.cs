using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

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
        var error = Assert.Throws<InvalidOperationException>(() => Ml.MulticlassClassification.Trainers.ConvNet(EstimatorConventionTests.Small()).Fit(empty));
        Assert.Equal("The training data has no rows.", error.Message);
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
        var error = Assert.Throws<ArgumentException>(() => Pipeline(options).Fit(EstimatorConventionTests.InMemory(100)));
        Assert.Contains("10 classes", error.Message);
        Assert.Contains("3", error.Message);
    }

    private static byte[] SavedModelZip()
    {
        var model = Pipeline().Fit(EstimatorConventionTests.InMemory(100));
        using var saved = new MemoryStream();
        Ml.Model.Save(model, EstimatorConventionTests.InMemory(4).Schema, saved);
        return saved.ToArray();
    }

    // Writes the bytes to a model zip file and loads it with LoadConvNet; returns the error, whose type is checked.
    private static (InvalidDataException Error, string Path) LoadBroken(byte[] bytes)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("mlnetconv-zip").FullName, "model.zip");
        File.WriteAllBytes(path, bytes);
        try
        {
            return (Assert.Throws<InvalidDataException>(() => Ml.Model.LoadConvNet(path, out _)), path);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void AnIntactZipLoadsThroughLoadConvNetAsThroughModelLoad()
    {
        byte[] zip = SavedModelZip();
        IDataView data = EstimatorConventionTests.InMemory(8, start: 300);
        var viaMlNet = Ml.Model.Load(new MemoryStream(zip), out var schema);
        var viaConvNet = Ml.Model.LoadConvNet(new MemoryStream(zip), out var schemaToo);
        Assert.Equal(schema.Select(c => (c.Name, c.Type)), schemaToo.Select(c => (c.Name, c.Type)));
        Assert.Equal(viaMlNet.Transform(data).GetColumn<float[]>("Score").SelectMany(s => s), viaConvNet.Transform(data).GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void ACorruptedNetworkEntryIsNamedWithItsChecksum()
    {
        byte[] tampered = Rewrite(SavedModelZip(), "Network.bin", bytes => bytes[bytes.Length / 2] ^= 0x10);
        var (error, path) = LoadBroken(tampered);
        Assert.Contains(path, error.Message);
        Assert.Contains("network entry 'Network.bin'", error.Message);
        Assert.Contains("The network is corrupted: its checksum does not match its contents.", error.Message);

        // ML.NET's own Model.Load cannot say it: it calls the loader by reflection, which wraps the reason twice.
        var wrapped = Assert.Throws<System.Reflection.TargetInvocationException>(() => Ml.Model.Load(new MemoryStream(tampered), out _));
        Assert.DoesNotContain("checksum", wrapped.Message);
        Assert.Contains("checksum does not match", Flatten(wrapped));
    }

    [Fact]
    public void ATruncatedNetworkEntryIsNamed()
    {
        var (error, path) = LoadBroken(Rewrite(SavedModelZip(), "Network.bin", null, shorten: 100));
        Assert.Contains(path, error.Message);
        Assert.Contains("network entry 'Network.bin' cannot be read: The network is truncated", error.Message);
    }

    [Fact]
    public void ATruncatedZipIsNamed()
    {
        byte[] zip = SavedModelZip();
        var (error, path) = LoadBroken(zip[..(zip.Length / 2)]);
        Assert.StartsWith($"Cannot load the model zip '{path}': the file is truncated or damaged: it starts as a zip file", error.Message);
        // What ML.NET's Model.Load says instead.
        var mlNet = Assert.Throws<FormatException>(() => Ml.Model.Load(new MemoryStream(zip[..(zip.Length / 2)]), out _));
        Assert.Equal("Failed to open a zip archive | End of Central Directory record could not be found.", Flatten(mlNet));
    }

    [Fact]
    public void AFileThatIsNotAZipIsNamed()
    {
        var (error, path) = LoadBroken("MLNCNET this is not a zip at all"u8.ToArray());
        Assert.StartsWith($"Cannot load the model zip '{path}': it is not a zip file (32 bytes", error.Message);
        Assert.Contains("is empty", LoadBroken([]).Error.Message);

        byte[] otherZip;
        using (var buffer = new MemoryStream())
        {
            using (var archive = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
                using (var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open())) writer.Write("hello");
            otherZip = buffer.ToArray();
        }
        var (notModel, zipPath) = LoadBroken(otherZip);
        Assert.Equal($"Cannot load the model zip '{zipPath}': it is a zip file but not an ML.NET model: it has no Model.key entry (it holds 'readme.txt').", notModel.Message);

        Assert.Contains("/nonexistent/model.zip", Assert.Throws<FileNotFoundException>(() => Ml.Model.LoadConvNet("/nonexistent/model.zip", out _)).Message);
    }

    [Fact]
    public void AModelFromANewerMlNetConvIsNamed()
    {
        // Written by a newer MlNetConv: the model header's version is bumped.
        byte[] newer = Rewrite(SavedModelZip(), "Model.key", bytes =>
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(ModelVersionWrittenOffset), 0x00020001u);
            BitConverter.TryWriteBytes(bytes.AsSpan(ModelVersionWrittenOffset + 4), 0x00020001u);
        }, entryFilter: IsCnnModelKey);
        var (error, path) = LoadBroken(newer);
        Assert.Contains(path, error.Message);
        Assert.Contains("format 0x00020001", error.Message);
        Assert.EndsWith("Update MlNetConv to load it.", error.Message);
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
