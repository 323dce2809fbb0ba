namespace MlNetConv.Core.Kernels;

/// <summary>
/// Where the B of a <see cref="Gemm"/> product comes from: a matrix in memory, or one made as the product reads it
/// (<see cref="PaddedImage"/>: an image unfolded a slice of one panel at a time, never written out whole).
/// </summary>
internal interface IMatrixSource
{
    /// <summary>Whether B lies in memory, so a product may read it in place (<see cref="At"/>) instead of packing it.</summary>
    bool InMemory { get; }

    /// <summary>Floats between rows of B in memory.</summary>
    int RowStride { get; }

    /// <summary>Element (row, column) of B in memory.</summary>
    ref float At(int row, int column);

    /// <summary>
    /// Rows [first, first + rows) of B's columns [column, column + registers·TOps.Count) into <paramref name="target"/>,
    /// one row after another.
    /// </summary>
    void Pack<TOps, TVec>(int first, int rows, int column, int registers, ref float target)
        where TOps : struct, IFloatVector<TVec> where TVec : struct;
}
