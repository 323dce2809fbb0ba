using MlNetConv.Core.Geometry;

namespace MlNetConv.Core.Onnx;

/// <summary>A sliding window's sizes as ONNX's Conv, MaxPool and AveragePool attributes.</summary>
internal static class OnnxGeometry
{
    /// <summary>
    /// Adds <c>kernel_shape</c>, <c>strides</c> and explicit <c>pads</c> [top, left, bottom, right]: Keras's "same" puts
    /// the odd extra row and column at the bottom and right, which explicit pads say exactly (no <c>auto_pad</c>).
    /// </summary>
    public static IOnnxNode Window(this IOnnxNode node, Window2D window) => node
        .Attribute("kernel_shape", [window.Rows.Window, window.Columns.Window])
        .Attribute("strides", [window.Rows.Stride, window.Columns.Stride])
        .Attribute("pads", [window.Rows.PadBefore, window.Columns.PadBefore, window.Rows.PadAfter, window.Columns.PadAfter]);
}
