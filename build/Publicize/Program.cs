// Publicize INPUT OUTPUT: copies an assembly with its non-public types made public, its internal methods and
// fields made public, and its private protected ones made protected. Private members are left alone (making
// them public would clash with compiler-generated backing fields). Only flag bits in the metadata tables change,
// so the copy is for the compiler's eyes only: the strong-name signature no longer holds, and at run time the
// real assembly loads, with IgnoresAccessChecksTo letting the caller through.
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Publicize INPUT.dll OUTPUT.dll");
    return 2;
}
byte[] image = File.ReadAllBytes(args[0]);
using (var pe = new PEReader(new MemoryStream(image)))
{
    MetadataReader md = pe.GetMetadataReader();
    int metadataStart = pe.PEHeaders.MetadataStartOffset;

    int Row(TableIndex table, int row) => metadataStart + md.GetTableMetadataOffset(table) + (row - 1) * md.GetTableRowSize(table);

    // TypeDef rows start with Flags (uint32): visibility is its low three bits.
    for (int row = 1; row <= md.GetTableRowCount(TableIndex.TypeDef); row++)
    {
        int at = Row(TableIndex.TypeDef, row);
        var flags = (TypeAttributes)BitConverter.ToUInt32(image, at);
        TypeAttributes visibility = flags & TypeAttributes.VisibilityMask;
        TypeAttributes widened = visibility switch
        {
            TypeAttributes.NotPublic => TypeAttributes.Public,
            TypeAttributes.Public or TypeAttributes.NestedPublic => visibility,
            _ => TypeAttributes.NestedPublic,
        };
        BitConverter.TryWriteBytes(image.AsSpan(at), (uint)((flags & ~TypeAttributes.VisibilityMask) | widened));
    }

    // MethodDef rows: RVA (uint32), ImplFlags (uint16), Flags (uint16). Field rows start with Flags (uint16).
    // Member access is the low three bits of both: 2 private protected, 3 internal, 4 protected, 6 public.
    Widen(TableIndex.MethodDef, offsetInRow: 6);
    Widen(TableIndex.Field, offsetInRow: 0);

    void Widen(TableIndex table, int offsetInRow)
    {
        for (int row = 1; row <= md.GetTableRowCount(table); row++)
        {
            int at = Row(table, row) + offsetInRow;
            ushort flags = BitConverter.ToUInt16(image, at);
            ushort access = (ushort)(flags & 7);
            ushort widened = access switch { 3 => 6, 2 => 4, _ => access };
            BitConverter.TryWriteBytes(image.AsSpan(at), (ushort)((flags & ~7) | widened));
        }
    }
}
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[1]))!);
File.WriteAllBytes(args[1], image);
return 0;
