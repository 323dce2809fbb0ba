using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;
using MlNetConv.Data;
using SkiaSharp;

namespace MlNetConv.Visualization;

/// <summary>
/// The course's pictures as PNG files: a convolution's filters, a layer's feature maps, training curves, and a grid of
/// labelled images. Values are shown as the course's matplotlib figures show them: viridis for maps, a blue-white-red
/// scale centred on zero for filter weights.
/// </summary>
public static class Pictures
{
    private const int Margin = 12;
    private static readonly SKTypeface Typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;

    /// <summary>
    /// The filters of a trained Conv2D layer, one tile per (filter, input channel), in rows of <paramref name="columns"/>;
    /// weights share one scale centred on zero so strong and weak filters compare at a glance.
    /// </summary>
    public static void Filters(Conv2D layer, string path, int columns = 8, int cell = 36)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var shape = layer.ConvShape;
        int tiles = shape.Filters * shape.InputChannels, rows = (tiles + columns - 1) / columns;
        int kh = shape.Window.Rows.Window, kw = shape.Window.Columns.Window;
        ReadOnlySpan<float> kernel = layer.Kernel;
        float limit = MathF.Max(1e-12f, MaxAbs(kernel));
        string title = $"{layer.Name}: {shape.Filters} filters of {kh}×{kw}" + (shape.InputChannels > 1 ? $" × {shape.InputChannels} channels" : "");
        using var surface = new Figure(columns * (cell + 4) + 2 * Margin, rows * (cell + 4) + 2 * Margin + 24, title);
        for (int t = 0; t < tiles; t++)
        {
            int x0 = Margin + t % columns * (cell + 4), y0 = Margin + 24 + t / columns * (cell + 4);
            for (int r = 0; r < kh; r++)
                for (int s = 0; s < kw; s++)
                {
                    var color = Diverging(kernel[(t * kh + r) * kw + s] / limit);
                    surface.Fill(new SKRect(x0 + s * cell / (float)kw, y0 + r * cell / (float)kh, x0 + (s + 1) * cell / (float)kw, y0 + (r + 1) * cell / (float)kh), color);
                }
        }
        surface.Save(path);
    }

    /// <summary>Each channel of one sample's activations (C, H, W) as a tile, each scaled to its own range, in viridis.</summary>
    public static void FeatureMaps(ReadOnlySpan<float> maps, Shape shape, string title, string path, int columns = 8, int scale = 4)
    {
        if (shape.Rank != 3) throw new ArgumentException($"Feature maps need an image shape (C, H, W); got {shape}.", nameof(shape));
        if (maps.Length != shape.Size) throw new ArgumentException($"{shape} needs {shape.Size} values; got {maps.Length}.", nameof(maps));
        int c = shape.Channels, h = shape.Height, w = shape.Width, rows = (c + columns - 1) / columns;
        int tileW = w * scale, tileH = h * scale;
        using var surface = new Figure(columns * (tileW + 4) + 2 * Margin, rows * (tileH + 4) + 2 * Margin + 24, title);
        for (int k = 0; k < c; k++)
        {
            ReadOnlySpan<float> map = maps.Slice(k * h * w, h * w);
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            foreach (float v in map) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
            float range = max - min > 1e-12f ? max - min : 1;
            int x0 = Margin + k % columns * (tileW + 4), y0 = Margin + 24 + k / columns * (tileH + 4);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    surface.Fill(new SKRect(x0 + x * scale, y0 + y * scale, x0 + (x + 1) * scale, y0 + (y + 1) * scale), Viridis((map[y * w + x] - min) / range));
        }
        surface.Save(path);
    }

    /// <summary>Loss and accuracy per epoch, training and validation, and the learning rate of each epoch's last update, side by side.</summary>
    public static void TrainingCurves(IReadOnlyList<EpochResult> epochs, string path)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        if (epochs.Count == 0) throw new ArgumentException("No epochs to plot.", nameof(epochs));
        const int panel = 360, height = 260;
        using var surface = new Figure(3 * panel + 4 * Margin, height + 2 * Margin + 24, "Training curves");
        SKRect Panel(int i) => new(Margin + i * (panel + Margin), Margin + 24, Margin + i * (panel + Margin) + panel, Margin + 24 + height);
        Plot(surface, Panel(0), "loss", epochs.Select(e => e.Loss).ToArray(), epochs.Select(e => e.ValidationLoss ?? double.NaN).ToArray());
        Plot(surface, Panel(1), "accuracy", epochs.Select(e => e.Accuracy).ToArray(), epochs.Select(e => e.ValidationAccuracy ?? double.NaN).ToArray());
        Plot(surface, Panel(2), "learning rate", epochs.Select(e => (double)e.LearningRate).ToArray(), [.. epochs.Select(_ => double.NaN)], "rate");
        surface.Save(path);
    }

    /// <summary>Grayscale images (C = 1, values in [0, 1]) in a grid, each with a caption under it (e.g. "true → predicted").</summary>
    public static void ImageGrid(IReadOnlyList<float[]> images, Shape shape, IReadOnlyList<string> captions, string title, string path, int columns = 6, int scale = 3)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count != captions.Count) throw new ArgumentException("Every image needs a caption.", nameof(captions));
        int w = shape.Width * scale, h = shape.Height * scale, cellW = Math.Max(w, 120), cellH = h + 30;
        int rows = Math.Max(1, (images.Count + columns - 1) / columns);
        using var surface = new Figure(columns * cellW + 2 * Margin, rows * cellH + 2 * Margin + 24, title);
        for (int i = 0; i < images.Count; i++)
        {
            int x0 = Margin + i % columns * cellW + (cellW - w) / 2, y0 = Margin + 24 + i / columns * cellH;
            for (int y = 0; y < shape.Height; y++)
                for (int x = 0; x < shape.Width; x++)
                {
                    byte g = (byte)Math.Clamp(MathF.Round(images[i][y * shape.Width + x] * 255), 0, 255);
                    surface.Fill(new SKRect(x0 + x * scale, y0 + y * scale, x0 + (x + 1) * scale, y0 + (y + 1) * scale), new SKColor(g, g, g));
                }
            surface.Text(captions[i], Margin + i % columns * cellW + cellW / 2f, y0 + h + 15, 11, SKTextAlign.Center);
        }
        surface.Save(path);
    }

    private static void Plot(Figure surface, SKRect area, string name, double[] train, double[] validation, string trainLabel = "train")
    {
        var plot = new SKRect(area.Left + 44, area.Top + 8, area.Right - 8, area.Bottom - 30);
        double[] all = train.Concat(validation).Where(double.IsFinite).ToArray();
        double min = all.Min(), max = all.Max();
        if (max - min < 1e-9 * Math.Max(1, Math.Abs(max)))
        {
            // A constant (a fixed learning rate of 1e-3, say): an axis of half its size either side, not of ±0.5.
            double half = max == 0 ? 0.5 : Math.Abs(max) / 2;
            (min, max) = (min - half, max + half);
        }
        double pad = (max - min) * 0.08;
        min = all.Min() >= 0 ? Math.Max(min - pad, 0) : min - pad; // a quantity that cannot be negative gets no negative axis
        max += pad;
        surface.Stroke(plot, SKColors.Gray);
        for (int i = 0; i <= 4; i++)
        {
            double v = min + (max - min) * i / 4;
            float y = (float)(plot.Bottom - (v - min) / (max - min) * plot.Height);
            surface.Line(plot.Left - 4, y, plot.Left, y, SKColors.Gray);
            surface.Text(v.ToString(Math.Abs(max) < 0.01 ? "0.###E0" : "0.###", System.Globalization.CultureInfo.InvariantCulture), plot.Left - 6, y + 4, 10, SKTextAlign.Right);
        }
        int n = train.Length;
        float X(int epoch) => n == 1 ? plot.MidX : plot.Left + (plot.Width * epoch / (n - 1));
        float Y(double v) => (float)(plot.Bottom - (v - min) / (max - min) * plot.Height);
        for (int e = 0; e < n; e++)
            if (n <= 20 || e % 5 == 4) surface.Text((e + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), X(e), plot.Bottom + 14, 10, SKTextAlign.Center);
        surface.Text($"epoch — {name}", plot.MidX, area.Bottom - 2, 11, SKTextAlign.Center);
        Series(surface, train, X, Y, new SKColor(31, 119, 180));
        Series(surface, validation, X, Y, new SKColor(255, 127, 14));
        // The legend goes in the corner the curves leave empty: top right while they fall, bottom right while they rise.
        float legend = train[^1] < train[0] ? plot.Top + 14 : plot.Bottom - 22;
        surface.Text($"— {trainLabel}", plot.Right - 80, legend, 11, SKTextAlign.Left, new SKColor(31, 119, 180));
        if (validation.Any(double.IsFinite)) surface.Text("— validation", plot.Right - 80, legend + 14, 11, SKTextAlign.Left, new SKColor(255, 127, 14));
    }

    private static void Series(Figure surface, double[] values, Func<int, float> x, Func<double, float> y, SKColor color)
    {
        for (int e = 0; e < values.Length; e++)
        {
            if (!double.IsFinite(values[e])) continue;
            if (e > 0 && double.IsFinite(values[e - 1])) surface.Line(x(e - 1), y(values[e - 1]), x(e), y(values[e]), color, 2);
            surface.Dot(x(e), y(values[e]), color);
        }
    }

    private static float MaxAbs(ReadOnlySpan<float> values)
    {
        float max = 0;
        foreach (float v in values) max = MathF.Max(max, MathF.Abs(v));
        return max;
    }

    // t in [−1, 1]: blue for negative, white at zero, red for positive.
    private static SKColor Diverging(float t)
    {
        t = Math.Clamp(t, -1, 1);
        byte fade = (byte)(255 * (1 - MathF.Abs(t)));
        return t >= 0 ? new SKColor(255, fade, fade) : new SKColor(fade, fade, 255);
    }

    // matplotlib's viridis, from five anchors, t in [0, 1].
    private static readonly float[] ViridisAnchors = [68, 1, 84, 59, 82, 139, 33, 145, 140, 94, 201, 98, 253, 231, 37];

    private static SKColor Viridis(float t)
    {
        t = Math.Clamp(float.IsFinite(t) ? t : 0, 0, 1) * 4;
        int i = Math.Min((int)t, 3);
        float f = t - i;
        byte C(int channel) => (byte)MathF.Round(ViridisAnchors[i * 3 + channel] + (ViridisAnchors[(i + 1) * 3 + channel] - ViridisAnchors[i * 3 + channel]) * f);
        return new SKColor(C(0), C(1), C(2));
    }

    /// <summary>A white canvas with a title, and the few drawing operations the pictures use.</summary>
    private sealed class Figure : IDisposable
    {
        private readonly SKBitmap bitmap;
        private readonly SKCanvas canvas;

        public Figure(int width, int height, string title)
        {
            bitmap = new SKBitmap(width, height);
            canvas = new SKCanvas(bitmap);
            canvas.Clear(SKColors.White);
            Text(title, Margin, Margin + 12, 14, SKTextAlign.Left);
        }

        public void Fill(SKRect rect, SKColor color)
        {
            using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Fill };
            canvas.DrawRect(rect, paint);
        }

        public void Stroke(SKRect rect, SKColor color)
        {
            using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
            canvas.DrawRect(rect, paint);
        }

        public void Line(float x0, float y0, float x1, float y1, SKColor color, float width = 1)
        {
            using var paint = new SKPaint { Color = color, StrokeWidth = width, IsAntialias = true };
            canvas.DrawLine(x0, y0, x1, y1, paint);
        }

        public void Dot(float x, float y, SKColor color)
        {
            using var paint = new SKPaint { Color = color, IsAntialias = true };
            canvas.DrawCircle(x, y, 3, paint);
        }

        public void Text(string text, float x, float y, float size, SKTextAlign align, SKColor? color = null)
        {
            using var paint = new SKPaint { Color = color ?? SKColors.Black, TextSize = size, IsAntialias = true, Typeface = Typeface, TextAlign = align };
            canvas.DrawText(text, x, y, paint);
        }

        public void Save(string path)
        {
            canvas.Flush();
            Png.Save(bitmap, path);
        }

        public void Dispose()
        {
            canvas.Dispose();
            bitmap.Dispose();
        }
    }
}
