namespace MlNetConv.Core.Geometry;

/// <summary>The two spatial axes of a 2-D sliding window (rows, then columns).</summary>
public readonly record struct Window2D(WindowAxis Rows, WindowAxis Columns)
{
    /// <summary>Both axes for an input of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public static Window2D Create(int height, int width, int windowHeight, int windowWidth,
        int strideRows, int strideColumns, Padding padding) =>
        new(WindowAxis.Create(height, windowHeight, strideRows, padding),
            WindowAxis.Create(width, windowWidth, strideColumns, padding));

    /// <summary>Output positions per channel: output height × output width.</summary>
    public int OutputArea => Rows.Output * Columns.Output;

    /// <summary>Input positions per channel.</summary>
    public int InputArea => Rows.Input * Columns.Input;

    /// <summary>Window positions: window height × window width.</summary>
    public int WindowArea => Rows.Window * Columns.Window;
}
