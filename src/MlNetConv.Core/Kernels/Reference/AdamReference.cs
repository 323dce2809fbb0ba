namespace MlNetConv.Core.Kernels.Reference;

/// <summary>Keras's Adam update written element by element, in double: the reference <see cref="AdamKernels"/> is tested against.</summary>
internal static class AdamReference
{
    public static void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v,
        float alpha, float beta1, float beta2, float epsilon)
    {
        for (int i = 0; i < parameters.Length; i++)
        {
            double g = gradients[i];
            // Moments below the smallest normal float are 0 (TensorFlow's CPU threads flush subnormals).
            double mi = Flush(m[i] + (g - m[i]) * (1 - (double)beta1));
            double vi = Flush(v[i] + (g * g - v[i]) * (1 - (double)beta2));
            m[i] = (float)mi;
            v[i] = (float)vi;
            parameters[i] = (float)(parameters[i] - alpha * mi / (Math.Sqrt(vi) + epsilon));
        }
    }

    private static double Flush(double x) => Math.Abs(x) < Math.Pow(2, -126) ? 0 : x;
}
