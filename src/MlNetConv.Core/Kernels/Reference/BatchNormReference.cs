using System.Numerics.Tensors;

namespace MlNetConv.Core.Kernels.Reference;

/// <summary>
/// Batch normalization as the formulas read, in plain loops and double sums, over the whole batch at once: the
/// reference <see cref="BatchNormKernels"/> is tested against. x (N, C, A); γ, β, μ, σ² per channel. Two of the kernels'
/// one-pass steps are held to the bits of the TensorPrimitives passes they replaced, kept here as those passes.
/// </summary>
internal static class BatchNormReference
{
    /// <summary><see cref="BatchNormKernels.ScaleAndShift"/> as the passes it replaced: y = x·scale, y = y + shift, then max(y, 0) (TensorPrimitives).</summary>
    public static void ScaleAndShift(ReadOnlySpan<float> x, Span<float> y, float scale, float shift, bool relu)
    {
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Add(y, shift, y);
        if (relu) Activations.Relu(y);
    }

    /// <summary>
    /// <see cref="BatchNormKernels.ReluGradient"/> as the passes it replaced: the fused ReLU's output a = max(x·scale + shift, 0)
    /// (<see cref="ScaleAndShift"/>), then its backward pass from a.
    /// </summary>
    public static void ReluGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> gradient, BatchNormKernels.ReluAfter relu)
    {
        float[] output = new float[x.Length];
        ScaleAndShift(x, output, relu.Scale, relu.Shift, relu: true);
        Activations.ReluBackward(output, dy, gradient);
    }

    /// <summary>
    /// <see cref="BatchNormKernels.InputGradient"/> as the passes it replaced: d = x·p, d = d + q, dx = dy·k + d (TensorPrimitives,
    /// each rounded on its own), dy first through the fused ReLU's backward pass when there is one.
    /// </summary>
    public static void InputGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, float p, float q, float k,
        BatchNormKernels.ReluAfter? relu)
    {
        float[] gradient = dy.ToArray();
        if (relu is { } kept) ReluGradient(x, dy, gradient, kept);
        TensorPrimitives.Multiply(x, p, dx);
        TensorPrimitives.Add(dx, q, dx);
        TensorPrimitives.MultiplyAdd(gradient, k, dx, dx);
    }

    /// <summary>Training forward: the batch's μ and σ² (biased), then y = γ·(x − μ)/√(σ² + ε) + β.</summary>
    public static void ForwardTraining(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> mean, Span<float> variance, int batch, int channels, int area, float epsilon)
    {
        for (int c = 0; c < channels; c++)
        {
            var (mu, sigma2) = Moments(x, batch, channels, area, c);
            mean[c] = (float)mu;
            variance[c] = (float)sigma2;
            double inverseStd = 1 / Math.Sqrt(sigma2 + epsilon);
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < area; i++)
                {
                    int at = (n * channels + c) * area + i;
                    y[at] = (float)(gamma[c] * (x[at] - mu) * inverseStd + beta[c]);
                }
        }
    }

    /// <summary>Training backward: dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(M·σ)·(M·dy − Σ dy − x̂·Σ dy·x̂).</summary>
    public static void BackwardTraining(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, ReadOnlySpan<float> gamma,
        Span<float> dGamma, Span<float> dBeta, int batch, int channels, int area, float epsilon)
    {
        int m = batch * area;
        for (int c = 0; c < channels; c++)
        {
            var (mu, sigma2) = Moments(x, batch, channels, area, c);
            double sigma = Math.Sqrt(sigma2 + epsilon), sumDy = 0, sumDyXhat = 0;
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < area; i++)
                {
                    int at = (n * channels + c) * area + i;
                    sumDy += dy[at];
                    sumDyXhat += dy[at] * (x[at] - mu) / sigma;
                }
            dGamma[c] = (float)sumDyXhat;
            dBeta[c] = (float)sumDy;
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < area; i++)
                {
                    int at = (n * channels + c) * area + i;
                    dx[at] = (float)(gamma[c] / (m * sigma) * (m * dy[at] - sumDy - (x[at] - mu) / sigma * sumDyXhat));
                }
        }
    }

    /// <summary>Channel c's mean and biased variance, in double.</summary>
    private static (double Mean, double Variance) Moments(ReadOnlySpan<float> x, int batch, int channels, int area, int c)
    {
        double sum = 0, squares = 0;
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < area; i++) sum += x[(n * channels + c) * area + i];
        double mean = sum / (batch * area);
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < area; i++) squares += Math.Pow(x[(n * channels + c) * area + i] - mean, 2);
        return (mean, squares / (batch * area));
    }
}
