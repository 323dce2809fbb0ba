namespace MlNetConv.Core.Training;

/// <summary>
/// Keras 3's <c>AdamW</c>: Adam with decoupled weight decay (Loshchilov and Hutter). Before each Adam update every
/// parameter shrinks by θ·wd·lr, where lr is the update's learning rate (so a schedule scales the decay too).
/// Defaults as Keras: lr 1e-3, weight decay 0.004, β₁ 0.9, β₂ 0.999, ε 1e-7. Like Keras, it decays every parameter,
/// biases included.
/// </summary>
/// <param name="learningRate">A number or a schedule; null for 1e-3.</param>
/// <param name="weightDecay">The decay per unit of learning rate, ≥ 0.</param>
/// <param name="beta1">Decay of the first moment, in (0, 1).</param>
/// <param name="beta2">Decay of the second moment, in (0, 1).</param>
/// <param name="epsilon">Added to √v, positive.</param>
public sealed class AdamW(LearningRateSchedule? learningRate = null, float weightDecay = 0.004f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f)
    : Adam(learningRate, beta1, beta2, epsilon, weightDecay);
