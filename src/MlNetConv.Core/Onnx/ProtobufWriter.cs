using System.Buffers.Binary;
using System.Text;

namespace MlNetConv.Core.Onnx;

/// <summary>
/// The protocol-buffers wire format, write side only, for the few ONNX messages an exported network needs: varints,
/// length-delimited fields (strings, bytes, nested messages) and 32-bit floats. A nested message is written into its
/// own writer first, because its length goes before it.
/// </summary>
/// <remarks>
/// Field numbers and wire types are onnx.proto's (proto2). Repeated scalars are written unpacked unless the schema
/// says <c>packed = true</c>, as the schema's own generated code does; parsers accept either.
/// </remarks>
internal sealed class ProtobufWriter
{
    private const int VarintType = 0, Fixed32Type = 5, LengthDelimitedType = 2;

    private readonly MemoryStream buffer = new();

    /// <summary>An int64, int32 or enum field.</summary>
    public ProtobufWriter Int64(int field, long value)
    {
        Tag(field, VarintType);
        Varint((ulong)value);
        return this;
    }

    /// <summary>A float field.</summary>
    public ProtobufWriter Float(int field, float value)
    {
        Tag(field, Fixed32Type);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        buffer.Write(bytes);
        return this;
    }

    /// <summary>A string field, UTF-8; nothing is written for null.</summary>
    public ProtobufWriter String(int field, string? value) => value is null ? this : Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field.</summary>
    public ProtobufWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimitedType);
        Varint((ulong)value.Length);
        buffer.Write(value);
        return this;
    }

    /// <summary>A nested message field.</summary>
    public ProtobufWriter Message(int field, ProtobufWriter message)
    {
        Tag(field, LengthDelimitedType);
        Varint((ulong)message.buffer.Length);
        message.buffer.WriteTo(buffer);
        return this;
    }

    /// <summary>The message's bytes so far.</summary>
    public void WriteTo(Stream stream) => buffer.WriteTo(stream);

    private void Tag(int field, int wireType) => Varint((ulong)(uint)(field << 3 | wireType));

    // Seven bits a byte, least significant first; negative int64 values take ten bytes, as protobuf defines.
    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        buffer.WriteByte((byte)value);
    }
}
