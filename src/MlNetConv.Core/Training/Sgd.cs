using System.Numerics.Tensors;

namespace MlNetConv.Core.Training;

/// <summary>
/// Stochastic gradient descent as Keras defines it: without momentum θ ← θ − lr·g; with momentum
/// u ← μ·u − lr·g and θ ← θ + u, or with Nesterov θ ← θ + μ·u − lr·g.
/// </summary>
public sealed class Sgd(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false) : Optimizer(learningRate)
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
            TensorPrimitives.MultiplyAdd(gradients, -LearningRate, parameters, parameters);
            return;
        }
        Span<float> velocity = this.velocity.AsSpan(offset, parameters.Length);
        TensorPrimitives.Multiply(velocity, Momentum, velocity);
        TensorPrimitives.MultiplyAdd(gradients, -LearningRate, velocity, velocity);
        if (Nesterov)
        {
            TensorPrimitives.MultiplyAdd(velocity, Momentum, parameters, parameters);
            TensorPrimitives.MultiplyAdd(gradients, -LearningRate, parameters, parameters);
        }
        else
            TensorPrimitives.Add(parameters, velocity, parameters);
    }
}
