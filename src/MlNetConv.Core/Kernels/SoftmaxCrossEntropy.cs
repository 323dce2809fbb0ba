using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace MlNetConv.Core.Kernels;

/// <summary>
/// Sparse categorical cross-entropy over a batch of N rows of K classes, averaged over the batch (Keras's reduction).
/// Both forms return the mean loss and write dZ = (softmax(z) − y) / N, the gradient with respect to the logits z,
/// which is the stable way to differentiate through a softmax. The target y is onehot(label), or with label smoothing
/// s the smoothed (1 − s)·onehot(label) + s/K, as Keras's categorical cross-entropy smooths its targets; the loss is
/// then −Σ_k y_k·log p_k.
/// </summary>
internal static class SoftmaxCrossEntropy
{
    /// <summary>Keras's backend epsilon: probabilities are clipped to it before the log.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>Loss from logits: log Σ exp(z) − z_label with the max subtracted first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float FromLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, Span<float> dLogits, float labelSmoothing = 0)
    {
        if (labelSmoothing != 0) return Smoothed(logits, labels, classes, dLogits, labelSmoothing, fromLogits: true);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float FromProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, Span<float> dLogits, float labelSmoothing = 0)
    {
        if (labelSmoothing != 0) return Smoothed(probabilities, labels, classes, dLogits, labelSmoothing, fromLogits: false);
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

    // Both forms with smoothed targets: p = softmax(z) (or the given probabilities), loss −Σ y_k·log max(p_k, ε),
    // gradient (p − y)/N. A separate path, so training without smoothing keeps its exact bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Smoothed(ReadOnlySpan<float> values, ReadOnlySpan<int> labels, int classes, Span<float> dLogits, float smoothing, bool fromLogits)
    {
        int n = labels.Length;
        double total = 0;
        float offTarget = smoothing / classes, onTarget = 1 - smoothing + offTarget;
        for (int row = 0; row < n; row++)
        {
            Span<float> p = dLogits.Slice(row * classes, classes);
            values.Slice(row * classes, classes).CopyTo(p);
            if (fromLogits) TensorPrimitives.SoftMax(p, p);
            for (int k = 0; k < classes; k++)
            {
                float target = k == labels[row] ? onTarget : offTarget;
                total -= target * Math.Log(Math.Max(p[k], Epsilon));
                p[k] = (p[k] - target) / n;
            }
        }
        return (float)(total / n);
    }
}
