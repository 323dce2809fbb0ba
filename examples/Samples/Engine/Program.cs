// The engine alone on the Fashion-MNIST subset the repository ships: dotnet run -- [DATA_DIR] [EPOCHS]
using MlNetConv.Core;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Training;

string dataDirectory = args.Length > 0 ? args[0] : "data/fashion-mnist-subset";
int epochs = args.Length > 1 ? int.Parse(args[1]) : 20;

var (train, test) = FashionMnist.Load(dataDirectory);                    // pixels scaled to [0, 1]
var model = new Sequential(FashionMnist.ImageShape,                      // (1, 28, 28), channels first
[
    new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu),
    new MaxPooling2D(2),
    new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu),
    new MaxPooling2D(2),
    new Flatten(),
    new Dense(100, Activation.Relu),
    new Dropout(0.4),
    new Dense(10, Activation.Softmax),
], seed: 42);                                                             // = Architectures.TextbookCnn()
Console.WriteLine(model.Summary());
var history = model.Fit(train, new FitOptions
{
    Epochs = epochs,
    BatchSize = 32,
    ValidationSplit = 0.2,
    Optimizer = new Adam(),                                               // lr 1e-3, β 0.9/0.999, ε 1e-7
    EarlyStopping = new EarlyStopping(Patience: 2, RestoreBestWeights: true),
});
Console.WriteLine($"best epoch {history.BestEpoch} of {history.Epochs.Count}");
Console.WriteLine(model.Evaluate(test));                                  // loss, accuracy
float[] images = test.SamplesToArray(0, test.Count);                      // the dataset keeps pixels as bytes
float[] probabilities = model.Predict(images);                            // thread-safe, batched
float[] featureMaps = model.PredictLayer(images.AsSpan(0, 784), "conv2d");
Console.WriteLine($"{probabilities.Length / 10} images scored; conv2d gives {featureMaps.Length} values for the first");
model.Save("model.mlnc");                                                 // versioned, checksummed
var again = Sequential.Load("model.mlnc");
Console.WriteLine($"reloaded: {again.ParameterCount:N0} parameters");
