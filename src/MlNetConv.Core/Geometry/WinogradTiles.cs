namespace MlNetConv.Core.Geometry;

/// <summary>
/// How a 3×3 stride-1 cross-correlation is cut into Winograd F(2×2, 3×3) tiles: an input of Channels × H × W, read with
/// PadTop / PadLeft zeros before it, gives Outputs × OH × OW, in tiles of 2×2 outputs, each computed from the 4×4 input
/// block starting at (2·tileRow − PadTop, 2·tileColumn − PadLeft). Tiles past an odd output edge read zeros and write
/// only their outputs that exist.
/// </summary>
internal readonly record struct WinogradTiles(int Channels, int Outputs, int Height, int Width, int PadTop, int PadLeft,
    int OutputHeight, int OutputWidth)
{
    /// <summary>Points of a transformed tile (4×4).</summary>
    public const int Points = 16;

    /// <summary>Whether <paramref name="shape"/> is a 3×3 window at stride 1, which Winograd F(2×2, 3×3) computes.</summary>
    public static bool Fits(in ConvShape shape) =>
        shape.Window.Rows is { Window: 3, Stride: 1 } && shape.Window.Columns is { Window: 3, Stride: 1 };

    /// <summary>The tiling of a convolution x (C, H, W) → y (K, OH, OW) with its own padding.</summary>
    public static WinogradTiles Of(in ConvShape shape) => new(shape.InputChannels, shape.Filters,
        shape.Window.Rows.Input, shape.Window.Columns.Input, shape.Window.Rows.PadBefore, shape.Window.Columns.PadBefore,
        shape.Window.Rows.Output, shape.Window.Columns.Output);

    /// <summary>Tile rows: ⌈OH / 2⌉.</summary>
    public int TileRows => (OutputHeight + 1) / 2;

    /// <summary>Tile columns: ⌈OW / 2⌉.</summary>
    public int TileColumns => (OutputWidth + 1) / 2;

    /// <summary>Tiles of one image.</summary>
    public int Tiles => TileRows * TileColumns;

    /// <summary>Rows of the zero-padded input plane the tiles read: 2·tile rows + 2.</summary>
    public int PaddedHeight => 2 * TileRows + 2;

    /// <summary>Columns of the zero-padded input plane: 2·tile columns + 2.</summary>
    public int PaddedWidth => 2 * TileColumns + 2;

    /// <summary>
    /// Channels and outputs rounded up to whole 512-bit registers: the transformed data keeps channels innermost
    /// (height, width, channel), so the transforms run a register of channels at a time at any width, on zeros past
    /// the real ones.
    /// </summary>
    public int PaddedChannels => RoundUp(Channels);

    /// <summary>Outputs rounded up like <see cref="PaddedChannels"/>.</summary>
    public int PaddedOutputs => RoundUp(Outputs);

    /// <summary>
    /// Floats from one point's kernels to the next in U: a (padded channels × padded outputs) matrix and one register
    /// more, so the 16 points do not fall a power of two apart (writing them side by side thrashed one L1 set).
    /// </summary>
    public int KernelPointStride => PaddedChannels * PaddedOutputs + 16;

    /// <summary>Floats of the transformed kernels U (16, padded channels, padded outputs).</summary>
    public int KernelSize => Points * KernelPointStride;

    /// <summary>
    /// Floats of the scratch the kernel transform needs: each row of U's matrix as 9 taps of a row's columns.
    /// </summary>
    public int KernelScratchSize => PaddedChannels * 9 * PaddedOutputs;

    /// <summary>
    /// Floats of the plane the output gradient's transform reads dY from: (2·tile rows, 2·tile columns, padded outputs),
    /// zeros past an odd edge.
    /// </summary>
    public int OutputGradientPlaneSize => 2 * TileRows * 2 * TileColumns * PaddedOutputs;

    /// <summary>
    /// Floats of the scratch the input gradient needs: its transformed form (16, tiles, padded channels), and the
    /// zero-padded input plane its tiles add up in.
    /// </summary>
    public int InputGradientScratchSize => InputTransformSize + PaddedInputSize;

    /// <summary>Floats of the zero-padded input plane the tiles read (padded height, padded width, padded channels).</summary>
    public int PaddedInputSize => PaddedHeight * PaddedWidth * PaddedChannels;

    /// <summary>Floats of one image's transformed input V (16, tiles, padded channels).</summary>
    public int InputTransformSize => Points * Tiles * PaddedChannels;

    /// <summary>Floats of one image's transformed output gradient Ĝ (16, tiles, padded outputs), the size of M too.</summary>
    public int GradientTransformSize => Points * Tiles * PaddedOutputs;

    /// <summary>
    /// Floats of the scratch one image needs besides V: the padded input plane (padded height, padded width, padded
    /// channels), M (16, tiles, padded outputs), the output or output gradient as (OH, OW, padded outputs).
    /// </summary>
    public int ScratchSize => GroupScratchSize(1);

    /// <summary>The scratch a group of images needs: one padded input plane and one output, M for all of them.</summary>
    public int GroupScratchSize(int images) => PaddedInputSize + images * GradientTransformSize + OutputHeight * OutputWidth * PaddedOutputs;

    private static int RoundUp(int count) => (count + 15) & ~15;
}
