using MlNetConv.Core.Layers;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Training;

/// <summary>
/// Every per-batch buffer of one model for batches of up to <see cref="Capacity"/> samples: the input, each layer's
/// output (and in training its gradient), the layers' scratch, the labels and the loss gradient. Allocated once and
/// reused, so steady-state training allocates nothing; predicting threads each rent their own.
/// </summary>
internal sealed class Workspace
{
    public Workspace(IReadOnlyList<Layer> layers, int capacity, bool training, int threads)
    {
        Capacity = capacity;
        Training = training;
        Threads = threads;
        Input = new float[(long)capacity * layers[0].InputShape.Size];
        Labels = new int[capacity];
        Passes = new LayerPass[layers.Count];
        var pool = WorkerPool.ForThreads(threads);
        float[] input = Input;
        float[]? inputGradient = null;
        for (int i = 0; i < layers.Count; i++)
        {
            var output = new float[(long)capacity * layers[i].OutputShape.Size];
            // Inference needs a gradient buffer only at the end, where Evaluate's loss leaves its (unused) gradient.
            float[]? outputGradient = training || i == layers.Count - 1 ? new float[(long)capacity * layers[i].OutputShape.Size] : null;
            Passes[i] = new LayerPass
            {
                Input = input,
                Output = output,
                OutputGradient = outputGradient,
                InputGradient = inputGradient,
                Buffers = layers[i].CreateBuffers(capacity, training, threads),
                Pool = pool,
            };
            input = output;
            inputGradient = outputGradient;
        }
    }

    public int Capacity { get; }

    public bool Training { get; }

    public int Threads { get; }

    public float[] Input { get; }

    public int[] Labels { get; }

    public LayerPass[] Passes { get; }

    public float[] Output => Passes[^1].Output;

    public float[] OutputGradient => Passes[^1].OutputGradient!;
}
