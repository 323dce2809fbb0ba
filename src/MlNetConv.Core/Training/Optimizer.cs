namespace MlNetConv.Training;

/// <summary>
/// Updates the model's parameters from their gradients, once per batch. The model keeps all parameters in one
/// buffer, so an optimizer sees one flat span and its state (moments, velocity) is one buffer of the same length.
/// State persists across <c>Fit</c> calls on the same model, as in Keras.
/// </summary>
public abstract class Optimizer
{
    private protected Optimizer(float learningRate)
    {
        if (!(learningRate > 0) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive and finite.");
        LearningRate = learningRate;
    }

    /// <summary>The step size.</summary>
    public float LearningRate { get; }

    /// <summary>Updates applied so far.</summary>
    public long Iterations { get; private protected set; }

    /// <summary>Prepares state for <paramref name="parameterCount"/> parameters unless it already has it.</summary>
    internal abstract void Prepare(int parameterCount);

    /// <summary>One update: parameters ← parameters − step(gradients).</summary>
    internal abstract void Step(Span<float> parameters, ReadOnlySpan<float> gradients);
}
