using MlNetConv.Core.Layers;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core;

/// <summary>
/// Every per-batch buffer of one model for batches of up to <see cref="Capacity"/> samples: the input, each layer's
/// output (and in training its gradient), the layers' scratch, the labels and the loss gradient. Allocated once and
/// reused, so steady-state training allocates nothing; predicting threads each rent their own.
/// </summary>
internal sealed class Workspace
{
    /// <param name="layers">The model's layers, built.</param>
    /// <param name="capacity">Samples per batch, at most.</param>
    /// <param name="parameterGradients">
    /// For training: the buffer the backward passes fill, laid out as the model's parameters (layer by layer); null for inference.
    /// </param>
    /// <param name="threads">Threads of the passes.</param>
    public Workspace(IReadOnlyList<Layer> layers, int capacity, float[]? parameterGradients, int threads)
    {
        bool training = parameterGradients is not null;
        Capacity = capacity;
        Threads = threads;
        Input = new float[(long)capacity * layers[0].InputShape.Size];
        Labels = new int[capacity];
        Passes = new LayerPass[layers.Count];
        var pool = WorkerPool.ForThreads(threads);
        float[] input = Input;
        float[]? inputGradient = null;
        bool parametersBefore = false;
        int offset = 0;
        // Training: a layer that can runs the next one too (LayerPass.Fused), unless that one is already run by its own
        // predecessor. Between the two, the output and its gradient are never used: empty arrays. So a training workspace
        // runs training passes only; prediction and evaluation rent inference workspaces.
        var runsNext = new bool[layers.Count];
        for (int i = 0; training && i + 1 < layers.Count; i++)
            runsNext[i] = (i == 0 || !runsNext[i - 1]) && layers[i].FusesInTraining(layers[i + 1]);
        for (int i = 0; i < layers.Count; i++)
        {
            Layer layer = layers[i];
            bool last = i == layers.Count - 1;
            long outputLength = runsNext[i] ? 0 : (long)capacity * layer.OutputShape.Size;
            var output = new float[outputLength];
            // Inference needs a gradient buffer only at the end, where Evaluate's loss leaves its (unused) gradient.
            float[]? outputGradient = training || last ? new float[outputLength] : null;
            Passes[i] = new LayerPass
            {
                Layer = layer,
                Input = input,
                Output = output,
                OutputGradient = outputGradient,
                // dX only where a layer before has parameters to train: after a leading RandomFlip, conv1 computed a
                // gradient for its input that nothing read.
                InputGradient = parametersBefore ? inputGradient : null,
                ParameterGradients = training ? new ArraySegment<float>(parameterGradients!, offset, layer.ParameterCount) : default,
                // The cross-entropy of a softmax output hands back dL/d(logits) (SoftmaxCrossEntropy.FromProbabilities).
                OutputGradientIsPreActivation = last && layer.OutputActivation == Activation.Softmax,
                Buffers = layer.CreateBuffers(capacity, training, threads),
                Pool = pool,
            };
            offset += layer.ParameterCount;
            parametersBefore |= layer.ParameterCount > 0;
            input = output;
            inputGradient = outputGradient;
        }
        for (int i = 0; i + 1 < layers.Count; i++)
            if (runsNext[i]) Passes[i].Fused = Passes[i + 1];
    }

    public int Capacity { get; }

    public int Threads { get; }

    public float[] Input { get; }

    public int[] Labels { get; }

    public LayerPass[] Passes { get; }

    public float[] Output => Passes[^1].Output;

    public float[] OutputGradient => Passes[^1].OutputGradient!;
}
