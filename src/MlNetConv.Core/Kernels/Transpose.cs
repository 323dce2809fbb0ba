using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace MlNetConv.Core.Kernels;

/// <summary>Matrix transposition between row-major spans with row strides: destination[j, i] = source[i, j].</summary>
internal static class Transpose
{
    /// <summary>
    /// Transposes the rows×columns matrix at <paramref name="source"/> (row stride ldSource) into <paramref name="destination"/>
    /// (row stride ldDestination); <paramref name="useBlocks"/> false takes the plain element-by-element loop, the
    /// reference the tests hold the blocked one to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Matrix(ReadOnlySpan<float> source, int rows, int columns, int ldSource, Span<float> destination, int ldDestination, bool useBlocks = true)
    {
        if (rows == 0 || columns == 0) return;
        if (ldSource < columns || ldDestination < rows ||
            source.Length < (long)(rows - 1) * ldSource + columns || destination.Length < (long)(columns - 1) * ldDestination + rows)
            throw new ArgumentException($"A {rows}×{columns} transpose with row strides {ldSource} → {ldDestination} does not fit spans of {source.Length} and {destination.Length} floats.");
        ref float src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        // Whole 8×8 blocks in registers where AVX is there (the Winograd convolutions transpose every image's planes
        // in and out; element by element that cost as much as their matrix products). A ragged edge is one more block
        // that overlaps the one before it and writes the shared elements again, with the same values: padding a 14-pixel
        // row of 64 channels element by element at its last 6 columns took as long as the 8×8 blocks of the rest.
        if (useBlocks && Avx.IsSupported && rows >= 8 && columns >= 8)
        {
            // Destination rows far apart (a Winograd output's channels to planes of 32×32 pixels, 4 KB apart, all at the
            // same offset in their pages) are written eight at a time along a chunk of source rows, so each of their
            // cache lines is whole before the next eight come: a block row at a time put 32 planes' lines in one L1 set
            // of 12 ways, and every store fetched its line from L2 again. The chunk's source rows stay in L1 meanwhile.
            // Otherwise a chunk is one block row, which reads far-apart source rows (an image's channels) once each.
            int chunk = ldDestination * sizeof(float) % FarRowsBytes == 0 && ldDestination > ldSource ? ChunkRows : 8;
            for (int i0 = 0; i0 < rows; i0 += chunk)
            {
                int i1 = Math.Min(rows, i0 + chunk);
                for (int j = 0; j < columns; j += 8)
                {
                    int left = Math.Min(j, columns - 8);
                    for (int i = i0; i < i1; i += 8)
                    {
                        int top = Math.Min(i, rows - 8);
                        Block8x8(ref Unsafe.Add(ref src, (nint)top * ldSource + left), ldSource, ref Unsafe.Add(ref dst, (nint)left * ldDestination + top), ldDestination);
                    }
                }
            }
            return;
        }
        // Narrower than a block either way (or no AVX, or the reference): element by element. Destination rows are
        // written contiguously; the strided source reads walk a few dozen cache lines that stay in L1.
        for (int j = 0; j < columns; j++)
        {
            ref float line = ref Unsafe.Add(ref dst, (nint)j * ldDestination);
            for (int i = 0; i < rows; i++) Unsafe.Add(ref line, i) = Unsafe.Add(ref src, (nint)i * ldSource + j);
        }
    }

    // Destination rows a multiple of 1 KB apart (planes of 16×16, 32×32, 64×64 pixels), whose lines crowd a few L1 sets,
    // are written in chunks of source rows (64: 4 cache lines a destination row). Other strides spread over the sets.
    private const int FarRowsBytes = 1024, ChunkRows = 64;

    // The classic AVX 8×8 transpose: interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8x8(ref float src, int ldSource, ref float dst, int ldDestination)
    {
        Vector256<float> r0 = Load(ref src, 0, ldSource), r1 = Load(ref src, 1, ldSource), r2 = Load(ref src, 2, ldSource), r3 = Load(ref src, 3, ldSource);
        Vector256<float> r4 = Load(ref src, 4, ldSource), r5 = Load(ref src, 5, ldSource), r6 = Load(ref src, 6, ldSource), r7 = Load(ref src, 7, ldSource);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Store(Avx.Permute2x128(u0, u4, 0x20), ref dst, 0, ldDestination);
        Store(Avx.Permute2x128(u1, u5, 0x20), ref dst, 1, ldDestination);
        Store(Avx.Permute2x128(u2, u6, 0x20), ref dst, 2, ldDestination);
        Store(Avx.Permute2x128(u3, u7, 0x20), ref dst, 3, ldDestination);
        Store(Avx.Permute2x128(u0, u4, 0x31), ref dst, 4, ldDestination);
        Store(Avx.Permute2x128(u1, u5, 0x31), ref dst, 5, ldDestination);
        Store(Avx.Permute2x128(u2, u6, 0x31), ref dst, 6, ldDestination);
        Store(Avx.Permute2x128(u3, u7, 0x31), ref dst, 7, ldDestination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(ref float matrix, int row, int stride) => Vector256.LoadUnsafe(ref Unsafe.Add(ref matrix, (nint)row * stride));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> value, ref float matrix, int row, int stride) => value.StoreUnsafe(ref Unsafe.Add(ref matrix, (nint)row * stride));
}
