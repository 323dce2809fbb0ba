// The course's Conv2D gradients through the public API, then a custom training loop built on a model's gradients.
// dotnet run -- [DATA_DIR] [STEPS]
using System.Numerics.Tensors;
using MlNetConv.Core;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Kernels;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Tensors;
using MlNetConv.Core.Training;

string dataDirectory = args.Length > 0 ? args[0] : "data/fashion-mnist-subset";
int steps = args.Length > 1 ? int.Parse(args[1]) : 300;

// ---- one Conv2D on the course's example: a 3×3 image X, a 2×2 kernel K, and dL/dY from the layer above
float[,] x = { { 1, 6, 2 }, { 5, 3, 1 }, { 7, 0, 4 } }, k = { { 1, 2 }, { -1, 0 } }, dy = { { 1, -2 }, { 3, 0.5f } };
var conv = new Conv2D(filters: 1, kernelSize: 2);
conv.Build(Shape.Image(1, 3, 3));                                 // on its own: (1, 3, 3) → (1, 2, 2), 4 + 1 parameters
conv.SetWeights([.. Flat(k), 0f]);                                // the kernel (filters, channels, rows, columns), then the bias
var y = new float[4];
LayerTape tape = conv.Forward(Flat(x), y, batch: 1);              // Y = B + X ★ K
var dx = new float[9];
var dParameters = new float[conv.ParameterCount];
tape.Backward(Flat(dy), dx, dParameters);
Console.WriteLine($"Y  = [{string.Join(", ", y)}]   X ★ K = [{string.Join(", ", Flat(CrossCorrelation.Correlate(x, k, Padding.Valid)))}]");
Console.WriteLine($"dK = [{string.Join(", ", dParameters[..4])}]   X ★ dY = [{string.Join(", ", Flat(CrossCorrelation.Correlate(x, dy, Padding.Valid)))}]");
Console.WriteLine($"dB = {dParameters[4]}   Σ dY = {Flat(dy).Sum()}");
Console.WriteLine($"dX = [{string.Join(", ", dx)}]   dY ★full rot180(K) = [{string.Join(", ", Flat(CrossCorrelation.Correlate(dy, CrossCorrelation.Rotate180(k), Padding.Full)))}]");

// ---- a custom training loop: the model gives the loss and every gradient, the optimizer applies them
var (train, test) = FashionMnist.Load(dataDirectory);
var model = new Sequential(FashionMnist.ImageShape, Architectures.TextbookCnn(), seed: 42);
var optimizer = new Adam(learningRate: 1e-3f);
var gradients = new float[model.ParameterCount];                  // layer by layer, each kernel then bias
const int batchSize = 32;
var images = new float[batchSize * FashionMnist.ImageShape.Size];
for (int step = 1; step <= steps; step++)
{
    int start = (step - 1) * batchSize % (train.Count - batchSize);
    train.CopySamples(start, batchSize, images);
    float loss = model.ComputeGradients(images, train.Labels.AsSpan(start, batchSize), gradients);
    float norm = TensorPrimitives.Norm(gradients);
    if (norm > 5) TensorPrimitives.Multiply(gradients, 5 / norm, gradients);   // clip the global norm at 5
    optimizer.ApplyGradients(model, gradients);
    if (step % 100 == 0 || step == steps) Console.WriteLine($"step {step}: loss {loss:F4}, gradient norm {norm:F3}");
}
Console.WriteLine($"test: {model.Evaluate(test)}");

static float[] Flat(float[,] m) => m.Cast<float>().ToArray();
