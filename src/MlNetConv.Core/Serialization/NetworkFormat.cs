using System.Buffers.Binary;
using System.Text;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Serialization;

/// <summary>
/// The versioned binary format of a <see cref="Sequential"/> network: architecture and weights, little-endian.
/// <code>
/// header   magic "MLNCNET\0" (8 bytes) | uint32 format version | int64 payload length | uint32 CRC-32 of the payload
/// payload  string model name | int32 seed | int32 rank, C, H, W of the input
///          int32 layer count, then per layer: uint8 kind | string name | the layer's config (Layer.WriteConfig)
///          int32 weight count (must equal what the architecture implies: trainable and non-trainable)
///          per layer, in order: its weights as float32, Layer.GetWeights's order (Conv2D kernel (K,C,R,S) then bias;
///          Dense kernel (D,U) then bias; BatchNormalization γ, β, moving mean, moving variance)
/// </code>
/// Reading checks, in order: magic, version (a newer file is refused by name), that the payload is all there
/// (truncation), the checksum (tampering), then every size and value (finite weights) before using it.
/// </summary>
/// <remarks>
/// Version history:
/// 1 — initial format.
/// 2 — layer kinds GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, RandomFlip and RandomTranslation;
///     the weight count and the weights
///     include non-trainable values (version 1 had none, so its files read unchanged).
/// </remarks>
internal static class NetworkFormat
{
    public const uint CurrentVersion = 2;
    private const int MaxLayers = 1024;
    private const int MaxNameLength = 256;
    private const long MaxPayload = 1L << 31;
    private static readonly byte[] Magic = "MLNCNET\0"u8.ToArray();

    internal enum LayerKind : byte
    {
        Conv2D = 1,
        MaxPooling2D = 2,
        AveragePooling2D = 3,
        Flatten = 4,
        Dense = 5,
        Dropout = 6,
        Activation = 7,
        GlobalAveragePooling2D = 8,
        GlobalMaxPooling2D = 9,
        BatchNormalization = 10,
        RandomFlip = 11,
        RandomTranslation = 12,
    }

    public static void Write(Sequential model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var payload = new MemoryStream();
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(model.Name);
            writer.Write(model.Seed);
            writer.Write(model.InputShape.Rank);
            writer.Write(model.InputShape.Channels);
            writer.Write(model.InputShape.Height);
            writer.Write(model.InputShape.Width);
            writer.Write(model.Layers.Count);
            foreach (Layer layer in model.Layers)
            {
                writer.Write((byte)KindOf(layer));
                writer.Write(layer.Name);
                layer.WriteConfig(writer);
            }
            writer.Write(model.ParameterCount + model.NonTrainableParameterCount);
            foreach (Layer layer in model.Layers)
                foreach (float value in layer.GetWeights()) writer.Write(value);
        }
        ReadOnlySpan<byte> body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        Span<byte> header = stackalloc byte[24];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], CurrentVersion);
        BinaryPrimitives.WriteInt64LittleEndian(header[12..], body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], Crc32.Compute(body));
        stream.Write(header);
        stream.Write(body);
    }

    public static Sequential Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[24];
        int got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (got < 8 || !header[..8].SequenceEqual(Magic))
            throw new InvalidDataException("This is not an MlNetConv network: the stream does not start with the MLNCNET signature.");
        if (got < header.Length) throw new InvalidDataException($"The network header is truncated: {got} of {header.Length} bytes.");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version == 0 || version > CurrentVersion)
            throw new InvalidDataException($"The network was written in format version {version}; this MlNetConv reads versions 1 to {CurrentVersion}. Update MlNetConv to read it.");
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[12..]);
        if (length < 0 || length > MaxPayload) throw new InvalidDataException($"The network header claims {length} payload bytes, which is not a valid size.");
        uint expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);

        // Copy what is actually there (never allocate what the header merely claims).
        var payload = new MemoryStream();
        CopyAtMost(stream, payload, length);
        if (payload.Length < length)
            throw new InvalidDataException($"The network is truncated: the header promises {length} payload bytes, the stream holds {payload.Length}.");
        ReadOnlySpan<byte> body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        if (Crc32.Compute(body) != expectedCrc)
            throw new InvalidDataException("The network is corrupted: its checksum does not match its contents.");

        payload.Position = 0;
        using var reader = new BinaryReader(payload, Encoding.UTF8);
        try
        {
            return ReadPayload(reader);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The network payload ends in the middle of a record.", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The network describes an invalid architecture: {e.Message}", e);
        }
    }

    private static Sequential ReadPayload(BinaryReader reader)
    {
        string modelName = ReadName(reader, "model name");
        int seed = reader.ReadInt32();
        int rank = reader.ReadInt32(), c = reader.ReadInt32(), h = reader.ReadInt32(), w = reader.ReadInt32();
        Shape input = rank switch
        {
            3 => Shape.Image(c, h, w),
            1 when h == 1 && w == 1 => Shape.Vector(c),
            _ => throw new InvalidDataException($"The network's input shape has rank {rank} ({c}, {h}, {w}); expected rank 1 or 3."),
        };
        int layerCount = reader.ReadInt32();
        if (layerCount < 1 || layerCount > MaxLayers)
            throw new InvalidDataException($"The network claims {layerCount} layers; expected 1 to {MaxLayers}.");
        var layers = new List<Layer>(layerCount);
        for (int i = 0; i < layerCount; i++)
        {
            var kind = (LayerKind)reader.ReadByte();
            string name = ReadName(reader, $"name of layer {i}");
            if (!Enum.IsDefined(kind)) throw new InvalidDataException($"Layer {i} has unknown kind {(byte)kind}.");
            layers.Add(ReadLayerConfig(kind, reader, name));
            ValidateEnums(layers[^1], i);
        }
        var model = new Sequential(input, layers, seed, modelName);
        int count = reader.ReadInt32();
        int expected = model.ParameterCount + model.NonTrainableParameterCount;
        if (count != expected)
            throw new InvalidDataException($"The network stores {count} weights; its architecture has {expected}.");
        foreach (Layer layer in model.Layers)
        {
            var weights = new float[layer.ParameterCount + layer.NonTrainableParameterCount];
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = reader.ReadSingle();
                if (!float.IsFinite(weights[i]))
                    throw new InvalidDataException($"Weight {i} of layer '{layer.Name}' is {weights[i]}; weights must be finite.");
            }
            layer.SetWeights(weights);
        }
        if (reader.BaseStream.Position != reader.BaseStream.Length)
            throw new InvalidDataException($"The network payload has {reader.BaseStream.Length - reader.BaseStream.Position} unexpected bytes after the weights.");
        return model;
    }

    internal static Layer ReadLayerConfig(LayerKind kind, BinaryReader reader, string name) => kind switch
    {
        LayerKind.Conv2D => Conv2D.ReadConfig(reader, name),
        LayerKind.MaxPooling2D => MaxPooling2D.ReadConfig(reader, name),
        LayerKind.AveragePooling2D => AveragePooling2D.ReadConfig(reader, name),
        LayerKind.Flatten => Flatten.ReadConfig(reader, name),
        LayerKind.Dense => Dense.ReadConfig(reader, name),
        LayerKind.Dropout => Dropout.ReadConfig(reader, name),
        LayerKind.Activation => ActivationLayer.ReadConfig(reader, name),
        LayerKind.GlobalAveragePooling2D => new GlobalAveragePooling2D(name),
        LayerKind.GlobalMaxPooling2D => new GlobalMaxPooling2D(name),
        LayerKind.BatchNormalization => BatchNormalization.ReadConfig(reader, name),
        LayerKind.RandomFlip => RandomFlip.ReadConfig(reader, name),
        LayerKind.RandomTranslation => RandomTranslation.ReadConfig(reader, name),
        _ => throw new InvalidDataException($"Unknown layer kind {(byte)kind}."),
    };

    private static void ValidateEnums(Layer layer, int index)
    {
        bool ok = layer switch
        {
            Conv2D conv => Enum.IsDefined(conv.Padding),
            Pooling2D pool => Enum.IsDefined(pool.Padding),
            _ => true,
        };
        if (!ok) throw new InvalidDataException($"Layer {index} ('{layer.Name}') has an unknown padding mode.");
    }

    private static string ReadName(BinaryReader reader, string what)
    {
        string name = reader.ReadString();
        if (name.Length > MaxNameLength) throw new InvalidDataException($"The {what} is {name.Length} characters long; at most {MaxNameLength} are allowed.");
        return name;
    }

    private static void CopyAtMost(Stream source, Stream destination, long limit)
    {
        byte[] chunk = new byte[81920];
        long remaining = limit;
        while (remaining > 0)
        {
            int read = source.Read(chunk, 0, (int)Math.Min(chunk.Length, remaining));
            if (read == 0) break;
            destination.Write(chunk, 0, read);
            remaining -= read;
        }
    }

    internal static LayerKind KindOf(Layer layer) => layer switch
    {
        Conv2D => LayerKind.Conv2D,
        MaxPooling2D => LayerKind.MaxPooling2D,
        AveragePooling2D => LayerKind.AveragePooling2D,
        Flatten => LayerKind.Flatten,
        Dense => LayerKind.Dense,
        Dropout => LayerKind.Dropout,
        ActivationLayer => LayerKind.Activation,
        GlobalAveragePooling2D => LayerKind.GlobalAveragePooling2D,
        GlobalMaxPooling2D => LayerKind.GlobalMaxPooling2D,
        BatchNormalization => LayerKind.BatchNormalization,
        RandomFlip => LayerKind.RandomFlip,
        RandomTranslation => LayerKind.RandomTranslation,
        _ => throw new NotSupportedException($"Layer type {layer.GetType().Name} has no network-format kind."),
    };
}
