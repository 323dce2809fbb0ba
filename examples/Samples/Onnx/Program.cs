// A trained CNN as ONNX, two ways, then scored outside MlNetConv: the network alone (input (N, 1, 28, 28), for any
// pipeline or language) in ONNX Runtime, and a whole ML.NET pipeline through ConvertToOnnx back in ML.NET.
// dotnet run -- [DATA_DIR] [EPOCHS]
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetConv;
using MlNetConv.Core.Data;
using MlNetConv.Core.Onnx;
using MlNetConv.Data;

string dataDirectory = args.Length > 0 ? args[0] : "data/fashion-mnist-subset";
int epochs = args.Length > 1 ? int.Parse(args[1]) : 20;

var (train, test) = FashionMnist.Load(dataDirectory);
var ml = new MLContext(seed: 1);
IDataView trainView = new DatasetDataView(train, FashionMnist.ClassNames), testView = new DatasetDataView(test, FashionMnist.ClassNames);
var model = ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions { Epochs = epochs })
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
    .Fit(trainView);
ConvNetTransformer cnn = model.OfType<ConvNetTransformer>().Single();

// The network alone: input "input" (N, 1, 28, 28) floats, outputs "probabilities" (N, 10) and "class_index" (N),
// the class names in the metadata. Load and resize images before it as the pipeline did (here: pixels / 255).
cnn.ExportToOnnx("model.onnx");
// The whole pipeline, when every step can be ONNX (here: a Features column in; Score and PredictedLabel out).
using (var file = File.Create("pipeline.onnx")) ml.Model.ConvertToOnnx(model, trainView, file);

// ONNX Runtime, as from C++, Python or the browser: all test images in one batch.
using var session = new InferenceSession("model.onnx");
string[] classNames = JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap[OnnxExport.ClassNamesKey])!;
var images = new DenseTensor<float>(test.SamplesToArray(0, test.Count), [test.Count, 1, 28, 28]);
using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, images)]);
long[] predicted = results.Single(r => r.Name == OnnxExport.ClassIndexName).AsTensor<long>().ToArray();
double accuracy = predicted.Where((c, i) => c == test.Labels[i]).Count() / (double)test.Count;
Console.WriteLine($"model.onnx in ONNX Runtime: test accuracy {accuracy:F4}; first image: {classNames[predicted[0]]}, labelled {classNames[test.Labels[0]]}");

// ML.NET scores either file too: ApplyOnnxModel feeds pipeline.onnx the columns the pipeline took.
string[] onnxLabels = ml.Transforms.ApplyOnnxModel("pipeline.onnx").Fit(testView).Transform(testView)
    .GetColumn<VBuffer<ReadOnlyMemory<char>>>("PredictedLabel").Select(v => v.GetItemOrDefault(0).ToString()).ToArray();
string[] labels = model.Transform(testView).GetColumn<string>("PredictedLabel").ToArray();
Console.WriteLine($"pipeline.onnx in ML.NET: {onnxLabels.Zip(labels).Count(p => p.First == p.Second)} of {labels.Length} predicted labels as MlNetConv's");
