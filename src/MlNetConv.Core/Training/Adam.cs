namespace MlNetConv.Core.Training;

/// <summary>
/// Adam with Keras's defaults and update rule (keras/src/optimizers/adam.py):
/// m ← m + (g − m)(1 − β₁), v ← v + (g² − v)(1 − β₂), α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), θ ← θ − α·m / (√v + ε).
/// Note ε = 1e-7 (Keras), not PyTorch's 1e-8, and ε is added outside the bias correction as Keras does.
/// </summary>
/// <param name="learningRate">A number or a schedule; null for Keras's 1e-3.</param>
/// <param name="beta1">Decay of the first moment, in (0, 1).</param>
/// <param name="beta2">Decay of the second moment, in (0, 1).</param>
/// <param name="epsilon">Added to √v, positive.</param>
/// <param name="weightDecay">Decoupled weight decay (0: none; <see cref="AdamW"/> defaults to Keras's 0.004).</param>
public class Adam(LearningRateSchedule? learningRate = null, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, float weightDecay = 0)
    : Optimizer(learningRate ?? 1e-3f, weightDecay)
{
    private float[] m = [], v = [];
    private float stepSize;

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; } = beta1 is > 0 and < 1 ? beta1 : throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in (0, 1).");

    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; } = beta2 is > 0 and < 1 ? beta2 : throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in (0, 1).");

    /// <summary>Added to √v to keep the step finite.</summary>
    public float Epsilon { get; } = epsilon > 0 ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be positive.");

    internal override void Prepare(int parameterCount)
    {
        if (m.Length == parameterCount) return;
        m = new float[parameterCount];
        v = new float[parameterCount];
        Iterations = 0;
    }

    private protected override void BeginStep() =>
        stepSize = (float)(StepLearningRate * Math.Sqrt(1 - Math.Pow(Beta2, Iterations)) / (1 - Math.Pow(Beta1, Iterations)));

    private protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset) =>
        Kernels.AdamKernels.Step(parameters, gradients, m.AsSpan(offset, parameters.Length), v.AsSpan(offset, parameters.Length),
            stepSize, Beta1, Beta2, Epsilon);
}
