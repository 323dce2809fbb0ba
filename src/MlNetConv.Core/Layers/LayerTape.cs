using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Layers;

/// <summary>
/// One forward pass of a layer over a batch, kept for its backward pass (what a gradient tape records for one
/// layer): the input, the output and the layer's own per-batch state (im2col matrices, the max positions of each
/// pooling window, dropout's mask). Made by <see cref="Layer.Forward"/>.
/// </summary>
/// <example>
/// The course's Conv2D gradients for one image x (1, 3, 3) and a 2×2 kernel, given dL/dY (1, 2, 2):
/// <code>
/// var conv = new Conv2D(1, 2);
/// conv.Build(Shape.Image(1, 3, 3));
/// conv.SetWeights([k00, k01, k10, k11, bias]);
/// var y = new float[4];
/// LayerTape tape = conv.Forward(x, y, batch: 1);
/// var dx = new float[9];
/// var dParameters = new float[conv.ParameterCount];       // dK (4 values), then dB
/// tape.Backward(dy, dx, dParameters);                     // dK = X ★ dY, dB = Σ dY, dX = dY ★full rot180(K)
/// </code>
/// </example>
public sealed class LayerTape
{
    private readonly LayerPass pass;
    private readonly float[] parameterGradients;

    internal LayerTape(Layer layer, int batch, bool training, int seed)
    {
        Layer = layer;
        Batch = batch;
        Training = training;
        int threads = Environment.ProcessorCount;
        parameterGradients = new float[layer.ParameterCount];
        pass = new LayerPass
        {
            Layer = layer,
            Input = new float[(long)batch * layer.InputShape.Size],
            Output = new float[(long)batch * layer.OutputShape.Size],
            OutputGradient = new float[(long)batch * layer.OutputShape.Size],
            InputGradient = new float[(long)batch * layer.InputShape.Size],
            ParameterGradients = parameterGradients,
            // Buffers for training in either mode: the backward pass needs what the forward pass keeps.
            Buffers = layer.CreateBuffers(batch, training: true, threads),
            Pool = WorkerPool.ForThreads(threads),
            Batch = batch,
            Training = training,
            Random = new Random(seed),
        };
    }

    /// <summary>The layer that ran.</summary>
    public Layer Layer { get; }

    /// <summary>Samples in the batch (N).</summary>
    public int Batch { get; }

    /// <summary>Whether the pass ran in training mode (dropout active).</summary>
    public bool Training { get; }

    /// <summary>The forward pass's output, N samples of the layer's output shape.</summary>
    public ReadOnlySpan<float> Output => pass.Output;

    /// <summary>
    /// Backpropagates <paramref name="outputGradient"/> (dL/dY: N samples of the output shape) through the layer:
    /// writes dL/dX (N samples of the input shape) into <paramref name="inputGradient"/>, unless it is empty, and
    /// dL/dParameters into <paramref name="parameterGradient"/> in the layer's weight order (kernel, then bias;
    /// <see cref="Layer.ParameterCount"/> values; empty for a layer without parameters). The layer's weights are not changed.
    /// A tape can be backpropagated any number of times.
    /// </summary>
    public void Backward(ReadOnlySpan<float> outputGradient, Span<float> inputGradient, Span<float> parameterGradient)
    {
        Layer layer = Layer;
        if (outputGradient.Length != pass.OutputGradient!.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}): dY for {Batch} samples of {layer.OutputShape} needs {pass.OutputGradient.Length} values; got {outputGradient.Length}.", nameof(outputGradient));
        if (!inputGradient.IsEmpty && inputGradient.Length != pass.Input.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}): dX for {Batch} samples of {layer.InputShape} needs {pass.Input.Length} values; got {inputGradient.Length}.", nameof(inputGradient));
        if (parameterGradient.Length != parameterGradients.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}) has {parameterGradients.Length} parameters; the parameter gradient span has {parameterGradient.Length}.", nameof(parameterGradient));
        // The backward pass may work in place on dY, so it gets a copy; the forward pass's output stays as it was.
        outputGradient.CopyTo(pass.OutputGradient);
        layer.BackwardPass(pass);
        if (!inputGradient.IsEmpty) pass.InputGradient.AsSpan().CopyTo(inputGradient);
        parameterGradients.CopyTo(parameterGradient);
    }

    internal void Run(ReadOnlySpan<float> input, Span<float> output)
    {
        Layer layer = Layer;
        if (input.Length != pass.Input.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}): {Batch} samples of {layer.InputShape} are {pass.Input.Length} values; got {input.Length}.", nameof(input));
        if (output.Length != pass.Output.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}): {Batch} outputs of {layer.OutputShape} are {pass.Output.Length} values; the output span has {output.Length}.", nameof(output));
        if (Finite.IndexOfFirstNonFinite(input) is int i and >= 0)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.TypeName}): input value {i} (sample {i / layer.InputShape.Size}) is {input[i]}.", nameof(input));
        input.CopyTo(pass.Input);
        layer.ForwardPass(pass);
        pass.Output.AsSpan().CopyTo(output);
    }
}
