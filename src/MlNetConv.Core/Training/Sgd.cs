using System.Numerics.Tensors;

namespace MlNetConv.Core.Training;

/// <summary>
/// Stochastic gradient descent as Keras defines it: without momentum θ ← θ − lr·g; with momentum
/// u ← μ·u − lr·g and θ ← θ + u, or with Nesterov θ ← θ + μ·u − lr·g.
/// </summary>
/// <param name="learningRate">A number or a schedule; null for Keras's 0.01.</param>
/// <param name="momentum">μ in [0, 1).</param>
/// <param name="nesterov">Whether to use the Nesterov look-ahead.</param>
/// <param name="weightDecay">Decoupled weight decay (0: none).</param>
public sealed class Sgd(LearningRateSchedule? learningRate = null, float momentum = 0f, bool nesterov = false, float weightDecay = 0)
    : Optimizer(learningRate ?? 0.01f, weightDecay)
{
    private float[] velocity = [];

    /// <summary>μ in [0, 1).</summary>
    public float Momentum { get; } = momentum is >= 0 and < 1 ? momentum : throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");

    /// <summary>Whether the Nesterov look-ahead is used.</summary>
    public bool Nesterov { get; } = nesterov;

    internal override void Prepare(int parameterCount)
    {
        if (velocity.Length == parameterCount) return;
        velocity = new float[parameterCount];
        Iterations = 0;
    }

    private protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset)
    {
        if (Momentum == 0)
        {
            TensorPrimitives.MultiplyAdd(gradients, -StepLearningRate, parameters, parameters);
            return;
        }
        Span<float> velocity = this.velocity.AsSpan(offset, parameters.Length);
        TensorPrimitives.Multiply(velocity, Momentum, velocity);
        TensorPrimitives.MultiplyAdd(gradients, -StepLearningRate, velocity, velocity);
        Kernels.Subnormals.Flush(velocity); // a velocity whose gradient stays 0 decays into subnormals, which are slow on x86
        if (Nesterov)
        {
            TensorPrimitives.MultiplyAdd(velocity, Momentum, parameters, parameters);
            TensorPrimitives.MultiplyAdd(gradients, -StepLearningRate, parameters, parameters);
        }
        else
            TensorPrimitives.Add(parameters, velocity, parameters);
    }
}
