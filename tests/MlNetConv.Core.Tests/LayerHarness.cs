using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Tests;

/// <summary>Runs one layer on its own, outside a model, with parameters and buffers the test controls.</summary>
internal sealed class LayerHarness
{
    private readonly LayerPass pass;

    public LayerHarness(Layer layer, Shape input, int batch, int seed = 7, int threads = 2)
    {
        Layer = layer;
        Batch = batch;
        layer.BuildShape(input);
        Parameters = new float[layer.ParameterCount];
        Gradients = new float[layer.ParameterCount];
        layer.BindParameters(Parameters);
        layer.InitializeParameters(new Random(seed));
        pass = new LayerPass
        {
            Layer = layer,
            Input = new float[batch * input.Size],
            Output = new float[batch * layer.OutputShape.Size],
            OutputGradient = new float[batch * layer.OutputShape.Size],
            InputGradient = new float[batch * input.Size],
            ParameterGradients = Gradients,
            Buffers = layer.CreateBuffers(batch, training: true, threads),
            Pool = WorkerPool.ForThreads(threads),
            Batch = batch,
            Training = true,
        };
    }

    public Layer Layer { get; }

    public int Batch { get; }

    /// <summary>The layer's parameters, for the test to write: each <see cref="Forward"/> takes them as changed.</summary>
    public float[] Parameters { get; }

    public float[] Gradients { get; }

    public float[] Input => pass.Input;

    public float[] Forward(ReadOnlySpan<float> x, bool training = true, int dropoutSeed = 99)
    {
        x.CopyTo(pass.Input);
        pass.Training = training;
        pass.Random = new Random(dropoutSeed);
        Layer.ParametersChanged(); // the tests write Parameters directly (finite differences); model code says so itself
        Layer.ForwardPass(pass);
        return pass.Output.ToArray();
    }

    /// <summary>Backward from dY after a Forward; returns dX (parameter gradients land in <see cref="Gradients"/>).</summary>
    public float[] Backward(ReadOnlySpan<float> dy)
    {
        dy.CopyTo(pass.OutputGradient);
        Layer.BackwardPass(pass);
        return pass.InputGradient!.ToArray();
    }
}
