using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MlNetConv.Core.Kernels;

/// <summary>Matrix transposition between row-major spans with row strides: destination[j, i] = source[i, j].</summary>
internal static class Transpose
{
    /// <summary>Transposes the rows×columns matrix at <paramref name="source"/> (row stride ldSource) into <paramref name="destination"/> (row stride ldDestination).</summary>
    public static void Matrix(ReadOnlySpan<float> source, int rows, int columns, int ldSource, Span<float> destination, int ldDestination)
    {
        if (rows == 0 || columns == 0) return;
        if (ldSource < columns || ldDestination < rows ||
            source.Length < (long)(rows - 1) * ldSource + columns || destination.Length < (long)(columns - 1) * ldDestination + rows)
            throw new ArgumentException($"A {rows}×{columns} transpose with row strides {ldSource} → {ldDestination} does not fit spans of {source.Length} and {destination.Length} floats.");
        ref float src = ref MemoryMarshal.GetReference(source);
        ref float dst = ref MemoryMarshal.GetReference(destination);
        // Destination rows are written contiguously; the strided source reads walk a few dozen cache lines that stay in L1.
        for (int j = 0; j < columns; j++)
        {
            ref float line = ref Unsafe.Add(ref dst, (nint)j * ldDestination);
            for (int i = 0; i < rows; i++) Unsafe.Add(ref line, i) = Unsafe.Add(ref src, (nint)i * ldSource + j);
        }
    }
}
