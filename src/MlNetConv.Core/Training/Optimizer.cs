using System.Numerics.Tensors;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Threading;

namespace MlNetConv.Core.Training;

/// <summary>
/// Updates the model's parameters from their gradients, once per batch. The model keeps all parameters in one
/// buffer, so an optimizer sees one flat span and its state (moments, velocity) is one buffer of the same length.
/// State persists across <c>Fit</c> calls on the same model, as in Keras. Every rule here is element-wise, so a
/// step runs in blocks on the worker pool with the same bits as in one piece.
/// </summary>
public abstract class Optimizer
{
    // 64 KiB of each array per block: 21 blocks for the textbook model's 333,526 parameters.
    private const int BlockLength = 16384;

    private readonly Work<Optimizer> blockWork;
    private float[] stepParameters = [];
    private float[] stepGradients = [];

    private protected Optimizer(LearningRateSchedule learningRate, float weightDecay)
    {
        blockWork = new Work<Optimizer>(this, static (o, block) => o.UpdateBlock(block));
        LearningRate = learningRate ?? throw new ArgumentNullException(nameof(learningRate));
        WeightDecay = weightDecay >= 0 && float.IsFinite(weightDecay)
            ? weightDecay
            : throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be non-negative and finite.");
    }

    /// <summary>The step size: a constant (a plain number converts to one) or a schedule over the updates.</summary>
    public LearningRateSchedule LearningRate { get; internal set; }

    /// <summary>
    /// Decoupled weight decay (Keras 3's <c>weight_decay</c>): before each update every parameter shrinks,
    /// θ ← θ − θ·wd·lr, apart from the gradient step. 0 turns it off.
    /// </summary>
    public float WeightDecay { get; }

    /// <summary>The learning rate the next update will use.</summary>
    public float CurrentLearningRate => LearningRate.At(Iterations);

    /// <summary>The learning rate of the update in progress (set before its blocks run).</summary>
    private protected float StepLearningRate { get; private set; }

    /// <summary>Updates applied so far.</summary>
    public long Iterations { get; private protected set; }

    /// <summary>Prepares state for <paramref name="parameterCount"/> parameters unless it already has it.</summary>
    internal abstract void Prepare(int parameterCount);

    /// <summary>
    /// One update of <paramref name="model"/>'s parameters from <paramref name="gradients"/> laid out as
    /// <see cref="Sequential.ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, float)"/> gives them (Keras's
    /// <c>optimizer.apply_gradients</c>). The optimizer's state (moments, velocity) is sized for the first model it updates.
    /// </summary>
    public void ApplyGradients(Sequential model, ReadOnlySpan<float> gradients)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (gradients.Length != model.ParameterCount)
            throw new ArgumentException($"The model has {model.ParameterCount} parameters; got {gradients.Length} gradients.", nameof(gradients));
        if (Finite.IndexOfFirstNonFinite(gradients) is int i and >= 0)
            throw new ArgumentException($"Gradient {i} is {gradients[i]}; gradients must be finite.", nameof(gradients));
        Prepare(model.ParameterCount);
        gradients.CopyTo(model.GradientBuffer);
        Update(model, WorkerPool.ForThreads(model.Threads));
    }

    /// <summary>One update of <paramref name="model"/> from its gradient buffer.</summary>
    internal void Update(Sequential model, WorkerPool pool)
    {
        Step(model.ParameterBuffer, model.GradientBuffer, pool);
        model.ParametersChanged();
    }

    /// <summary>One update: parameters ← parameters − step(gradients), in blocks on <paramref name="pool"/>.</summary>
    internal void Step(float[] parameters, float[] gradients, WorkerPool pool)
    {
        if (parameters.Length != gradients.Length)
            throw new ArgumentException($"{parameters.Length} parameters but {gradients.Length} gradients.", nameof(gradients));
        StepLearningRate = LearningRate.At(Iterations);
        Iterations++;
        BeginStep();
        (stepParameters, stepGradients) = (parameters, gradients);
        pool.Run(blockWork, (parameters.Length + BlockLength - 1) / BlockLength);
        (stepParameters, stepGradients) = ([], []);
    }

    /// <summary>Per-update scalars (Adam's bias correction), once before the blocks; <see cref="Iterations"/> already counts this update.</summary>
    private protected virtual void BeginStep()
    {
    }

    /// <summary>Updates one block: the parameters and gradients at <paramref name="offset"/> of the whole buffer (and the state there).</summary>
    private protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int offset);

    private void UpdateBlock(int block)
    {
        int offset = block * BlockLength, length = Math.Min(BlockLength, stepParameters.Length - offset);
        Span<float> parameters = stepParameters.AsSpan(offset, length);
        if (WeightDecay > 0) TensorPrimitives.MultiplyAdd(parameters, -(WeightDecay * StepLearningRate), parameters, parameters);
        Update(parameters, stepGradients.AsSpan(offset, length), offset);
    }
}
