// Your own architecture in an ML.NET pipeline: ConvNetOptions.Layers with non-square kernels, strides and pooling,
// trained with SGD and Nesterov momentum on the shipped Fashion-MNIST subset. dotnet run -- [DATA_DIR] [EPOCHS]
using Microsoft.ML;
using MlNetConv;
using MlNetConv.Core.Data;
using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;
using MlNetConv.Core.Training;
using MlNetConv.Data;

string dataDirectory = args.Length > 0 ? args[0] : "data/fashion-mnist-subset";
int epochs = args.Length > 1 ? int.Parse(args[1]) : 20;

var (train, test) = FashionMnist.Load(dataDirectory);
var ml = new MLContext(seed: 1);
// A Features column of Vector<Single, 1, 28, 28> and a Label key with the class names, as ExtractPixels and MapValueToKey give.
IDataView trainView = new DatasetDataView(train, FashionMnist.ClassNames), testView = new DatasetDataView(test, FashionMnist.ClassNames);
var trainer = ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions
{
    Layers =
    [
        new Conv2D(16, kernelSize: (5, 3), strides: (2, 1), Padding.Same, Activation.Relu),   // 5 rows × 3 columns, stride 2 down
        new Conv2D(32, kernelSize: (3, 3), strides: (1, 2), Padding.Same, Activation.Relu),   // then stride 2 across: (32, 14, 14)
        new AveragePooling2D(2),
        new Flatten(),
        new Dense(64, Activation.Relu),
        new Dropout(0.3),
        new Dense(10, Activation.Softmax),                                                    // one output per class
    ],
    Epochs = epochs,
    Optimizer = ConvNetOptimizer.Sgd,
    LearningRate = 0.05f,
    Momentum = 0.9f,
    Nesterov = true,
    ValidationSplit = 0.1,
    EarlyStopping = new EarlyStopping(Patience: 3, RestoreBestWeights: true),
});
ConvNetTransformer model = trainer.Fit(trainView);
Console.WriteLine(model.Network.Summary());
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(testView));
Console.WriteLine($"test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
