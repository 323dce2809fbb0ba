using System.Buffers.Binary;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

namespace MlNetConv.Core.Tests;

public class SerializationTests
{
    private static Sequential TrainedModel()
    {
        var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 4);
        model.Fit(TestData.Train.Slice(0, 64), new FitOptions { Epochs = 1 });
        return model;
    }

    private static byte[] Bytes(Sequential model)
    {
        using var stream = new MemoryStream();
        model.Save(stream);
        return stream.ToArray();
    }

    [Fact]
    public void RoundTripGivesIdenticalPredictions()
    {
        Sequential model = TrainedModel();
        Sequential loaded = Sequential.Load(new MemoryStream(Bytes(model)));
        Assert.Equal(model.Summary(), loaded.Summary());
        Assert.Equal(model.ParameterBuffer, loaded.ParameterBuffer);
        float[] x = TestData.Test.SamplesToArray(0, 50);
        Assert.Equal(model.Predict(x), loaded.Predict(x));
    }

    [Fact]
    public void EveryLayerKindRoundTrips()
    {
        var model = new Sequential(Shape.Image(2, 9, 8),
        [
            new Conv2D(3, (2, 3), (2, 1), Padding.Same, Activation.Tanh, useBias: false, name: "c"),
            new AveragePooling2D((2, 2), (1, 2), Padding.Same),
            new MaxPooling2D(3, 1, Padding.Valid),
            new ActivationLayer(Activation.Sigmoid),
            new Flatten(),
            new Dropout(0.25),
            new Dense(4, Activation.Relu, useBias: false),
            new Dense(3),
            new ActivationLayer(Activation.Softmax),
        ], seed: 8, name: "every_kind");
        Sequential loaded = Sequential.Load(new MemoryStream(Bytes(model)));
        Assert.Equal(model.Summary(), loaded.Summary());
        float[] x = TestData.Random(5 * model.InputShape.Size, 1);
        Assert.Equal(model.Predict(x), loaded.Predict(x));
        var conv = Assert.IsType<Conv2D>(loaded.GetLayer("c"));
        Assert.Equal(((2, 3), (2, 1), Padding.Same, Activation.Tanh, false), (conv.KernelSize, conv.Strides, conv.Padding, conv.Activation, conv.UseBias));
    }

    [Fact]
    public void SavesToAndLoadsFromFiles()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnetconv-{Guid.NewGuid():N}.mlnc");
        try
        {
            Sequential model = TrainedModel();
            model.Save(path);
            Assert.Equal(model.ParameterBuffer, Sequential.Load(path).ParameterBuffer);
        }
        finally
        {
            File.Delete(path);
        }
        var missing = Assert.Throws<FileNotFoundException>(() => Sequential.Load(path));
        Assert.Contains(path, missing.Message);
    }

    [Fact]
    public void TruncatedStreamsAreRejected()
    {
        byte[] bytes = Bytes(TrainedModel());
        foreach (int length in new[] { 0, 4, 8, 20, 24, 25, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            var error = Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(bytes, 0, length)));
            Assert.Matches(length < 8 ? "not an MlNetConv network" : "truncated", error.Message);
        }
    }

    [Fact]
    public void CorruptedBytesAreRejected()
    {
        byte[] bytes = Bytes(TrainedModel());
        foreach (int position in new[] { 30, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            byte[] damaged = bytes.ToArray();
            damaged[position] ^= 0x40;
            var error = Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(damaged)));
            Assert.Contains("corrupted", error.Message);
        }
        byte[] notNetwork = "PK\u0003\u0004 not a network"u8.ToArray();
        Assert.Contains("not an MlNetConv network", Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(notNetwork))).Message);
    }

    [Fact]
    public void NewerFormatVersionsAreRefusedByName()
    {
        byte[] bytes = Bytes(TrainedModel());
        uint newer = Serialization.NetworkFormat.CurrentVersion + 1;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), newer);
        var error = Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(bytes)));
        Assert.Contains($"format version {newer}", error.Message);
        Assert.Contains($"reads versions 1 to {Serialization.NetworkFormat.CurrentVersion}", error.Message);
    }

    [Fact]
    public void ValidChecksumsOverInvalidContentAreStillRejected()
    {
        byte[] bytes = Bytes(TrainedModel());
        // A NaN weight, with the checksum recomputed as a careless writer would.
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(bytes.Length - 4), float.NaN);
        Reseal(bytes);
        Assert.Contains("must be finite", Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(bytes))).Message);

        // An absurd layer count.
        bytes = Bytes(TrainedModel());
        int nameLength = bytes[24];
        int layerCountAt = 24 + 1 + nameLength + 4 + 16;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(layerCountAt), int.MaxValue);
        Reseal(bytes);
        Assert.Contains("layers", Assert.Throws<InvalidDataException>(() => Sequential.Load(new MemoryStream(bytes))).Message);
    }

    private static void Reseal(byte[] bytes) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), Serialization.Crc32.Compute(bytes.AsSpan(24)));
}
