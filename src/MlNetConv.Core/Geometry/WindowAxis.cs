namespace MlNetConv.Core.Geometry;

/// <summary>
/// One spatial axis of a sliding window: input length, window length, stride, and the padding
/// that places output position o over input positions o·Stride − PadBefore … + Window − 1.
/// This is the one place where output sizes and padding offsets are computed, with Keras's exact rules.
/// </summary>
public readonly record struct WindowAxis(int Input, int Window, int Stride, int PadBefore, int PadAfter, int Output)
{
    /// <summary>Computes the axis for the given sizes and padding mode.</summary>
    /// <exception cref="ArgumentException">A size is not positive, or the window does not fit a valid-padded input.</exception>
    public static WindowAxis Create(int input, int window, int stride, Padding padding)
    {
        if (input < 1) throw new ArgumentException($"The input length must be positive; got {input}.", nameof(input));
        if (window < 1) throw new ArgumentException($"The window length must be positive; got {window}.", nameof(window));
        if (stride < 1) throw new ArgumentException($"The stride must be positive; got {stride}.", nameof(stride));
        switch (padding)
        {
            case Padding.Valid:
                if (window > input)
                    throw new ArgumentException(
                        $"A window of {window} does not fit an input of {input} with valid padding.", nameof(window));
                return new WindowAxis(input, window, stride, 0, 0, (input - window) / stride + 1);
            case Padding.Same:
            {
                // keras.src.ops.operation_utils / conv_test._same_padding: the total depends on in % s.
                int total = input % stride == 0 ? Math.Max(window - stride, 0) : Math.Max(window - input % stride, 0);
                int before = total / 2;
                return new WindowAxis(input, window, stride, before, total - before, (input + stride - 1) / stride);
            }
            case Padding.Full:
                return new WindowAxis(input, window, stride, window - 1, window - 1, (input + window - 2) / stride + 1);
            default:
                throw new ArgumentOutOfRangeException(nameof(padding), padding, "Unknown padding mode.");
        }
    }
}
