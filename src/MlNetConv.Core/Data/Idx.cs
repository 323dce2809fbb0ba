using System.Buffers.Binary;
using System.IO.Compression;

namespace MlNetConv.Core.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type code, the number of
/// dimensions, then each dimension as int32) followed by the values. Only unsigned bytes (type 0x08) are read
/// and written, which is what the image and label files hold. Gzip-compressed files are recognised by their signature.
/// </summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    /// <summary>Reads an IDX file (raw or gzip) into its dimensions and bytes; a malformed or truncated file gives <see cref="InvalidDataException"/>.</summary>
    public static (int[] Dimensions, byte[] Values) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No IDX file at '{path}'.", path);
        using var file = File.OpenRead(path);
        return Read(file, path); // every error message starts with the path
    }

    /// <summary>Reads IDX data from a stream (raw or gzip).</summary>
    public static (int[] Dimensions, byte[] Values) Read(Stream stream, string what = "IDX data")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffered = new BufferedStream(stream);
        Span<byte> signature = stackalloc byte[2];
        int peeked = buffered.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
        Stream source = new PrefixedStream(signature[..peeked].ToArray(), buffered);
        if (peeked == 2 && signature[0] == 0x1f && signature[1] == 0x8b) source = new GZipStream(source, CompressionMode.Decompress);
        try
        {
            Span<byte> magic = stackalloc byte[4];
            ReadExactly(source, magic, what, "header");
            if (magic[0] != 0 || magic[1] != 0)
                throw new InvalidDataException($"{what} is not IDX: it starts with {magic[0]:x2} {magic[1]:x2}, not 00 00.");
            if (magic[2] != UnsignedByte)
                throw new InvalidDataException($"{what} holds IDX type 0x{magic[2]:x2}; only unsigned bytes (0x08) are supported.");
            int rank = magic[3];
            if (rank is < 1 or > 4) throw new InvalidDataException($"{what} claims {rank} dimensions; expected 1 to 4.");
            var dims = new int[rank];
            Span<byte> dim = stackalloc byte[4];
            long total = 1;
            for (int i = 0; i < rank; i++)
            {
                ReadExactly(source, dim, what, "header");
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(dim);
                if (dims[i] < 0) throw new InvalidDataException($"{what} has a negative dimension {dims[i]}.");
                total *= dims[i];
                if (total > Array.MaxLength) throw new InvalidDataException($"{what} claims more than {Array.MaxLength} values.");
            }
            var values = new byte[total];
            ReadExactly(source, values, what, $"values ({string.Join("×", dims)})");
            if (source.ReadByte() != -1) throw new InvalidDataException($"{what} has data after its {total} values.");
            return (dims, values);
        }
        catch (InvalidDataException) { throw; }
        catch (IOException e)
        {
            throw new InvalidDataException($"{what} is damaged: {e.Message}", e);
        }
    }

    /// <summary>Writes unsigned-byte IDX data, gzip-compressed when <paramref name="gzip"/> is set.</summary>
    public static void Write(Stream stream, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> values, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (dimensions.Length is < 1 or > 4) throw new ArgumentException("IDX data has 1 to 4 dimensions.", nameof(dimensions));
        long total = 1;
        foreach (int d in dimensions) total *= d >= 0 ? d : throw new ArgumentException("Dimensions cannot be negative.", nameof(dimensions));
        if (total != values.Length) throw new ArgumentException($"The dimensions hold {total} values; got {values.Length}.", nameof(values));
        using Stream target = gzip ? new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true) : new NonClosingStream(stream);
        Span<byte> header = stackalloc byte[4 + 4 * dimensions.Length];
        header[2] = UnsignedByte;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * i)..], dimensions[i]);
        target.Write(header);
        target.Write(values);
    }

    private static void ReadExactly(Stream source, Span<byte> buffer, string what, string part)
    {
        int got = source.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length) throw new InvalidDataException($"{what} is truncated: its {part} needs {buffer.Length} bytes, only {got} are there.");
    }

    // Puts the peeked signature bytes back in front of the stream.
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - position);
                prefix.AsSpan(position, n).CopyTo(buffer);
                position += n;
                return n;
            }
            return rest.Read(buffer);
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    }
}
