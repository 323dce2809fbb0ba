using System.Numerics.Tensors;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Sparse categorical cross-entropy over a batch of N rows of K classes, averaged over the batch (Keras's reduction).
/// Both forms return the mean loss and write dZ = (softmax(z) − onehot(label)) / N, the gradient with respect to the
/// logits z, which is the stable way to differentiate through a softmax.
/// </summary>
internal static class SoftmaxCrossEntropy
{
    /// <summary>Keras's backend epsilon: probabilities are clipped to it before the log.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>Loss from logits: log Σ exp(z) − z_label with the max subtracted first.</summary>
    public static float FromLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, Span<float> dLogits)
    {
        int n = labels.Length;
        double total = 0;
        for (int row = 0; row < n; row++)
        {
            ReadOnlySpan<float> z = logits.Slice(row * classes, classes);
            Span<float> g = dLogits.Slice(row * classes, classes);
            float max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, g);
            TensorPrimitives.Exp(g, g);
            float sum = TensorPrimitives.Sum(g);
            total += Math.Log(sum) - (z[labels[row]] - max);
            TensorPrimitives.Multiply(g, 1f / (sum * n), g);
            g[labels[row]] -= 1f / n;
        }
        return (float)(total / n);
    }

    /// <summary>Loss from probabilities a softmax layer already produced: −log(max(p_label, ε)).</summary>
    public static float FromProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, Span<float> dLogits)
    {
        int n = labels.Length;
        double total = 0;
        for (int row = 0; row < n; row++)
        {
            ReadOnlySpan<float> p = probabilities.Slice(row * classes, classes);
            Span<float> g = dLogits.Slice(row * classes, classes);
            total -= Math.Log(Math.Max(p[labels[row]], Epsilon));
            TensorPrimitives.Multiply(p, 1f / n, g);
            g[labels[row]] -= 1f / n;
        }
        return (float)(total / n);
    }
}
