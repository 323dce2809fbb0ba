using MlNetConv.Core.Tensors;

namespace MlNetConv.Core.Onnx;

/// <summary>
/// Where a network's layers write themselves as ONNX: MlNetConv's own model writer (<see cref="OnnxModelWriter"/>), or
/// ML.NET's ONNX converter context when a pipeline is converted whole (in the ML.NET package). Every value is a float
/// tensor with a batch dimension first: (N, C, H, W) for images, (N, D) for flat samples. Names given are hints; each
/// method returns the unique name it used.
/// </summary>
internal interface IOnnxGraph
{
    /// <summary>Declares a new value holding N samples of <paramref name="sample"/> shape.</summary>
    string AddValue(string nameHint, Shape sample);

    /// <summary>A constant float tensor of <paramref name="dimensions"/> (row-major values).</summary>
    string AddInitializer(string nameHint, ReadOnlySpan<float> values, params long[] dimensions);

    /// <summary>A node of the default ONNX domain; its attributes are added on the returned node.</summary>
    IOnnxNode AddNode(string opType, string nameHint, string[] inputs, string[] outputs);
}

/// <summary>A node being written: its attributes.</summary>
internal interface IOnnxNode
{
    IOnnxNode Attribute(string name, long value);

    IOnnxNode Attribute(string name, float value);

    IOnnxNode Attribute(string name, long[] values);
}
