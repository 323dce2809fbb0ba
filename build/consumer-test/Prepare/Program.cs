// Consumer-test helper, built against the MlNetConv package: exports the first images of the shipped Fashion-MNIST
// subset as PNG class folders with train.tsv and test.tsv, the layout a user with their own images has.
// Prepare SUBSET_DIR OUTPUT_DIR TRAIN_COUNT TEST_COUNT
using MlNetConv.Core.Data;
using MlNetConv.Data;

string subset = args[0], output = args[1];
int trainCount = int.Parse(args[2]), testCount = int.Parse(args[3]);
var (train, test) = FashionMnist.Load(subset);
FashionMnistData.ExportPngFolders(train.Slice(0, trainCount), FashionMnist.ClassNames, Path.Combine(output, "train"), Path.Combine(output, "train.tsv"));
FashionMnistData.ExportPngFolders(test.Slice(0, testCount), FashionMnist.ClassNames, Path.Combine(output, "test"), Path.Combine(output, "test.tsv"));
Console.WriteLine($"exported {trainCount} training and {testCount} test images under {output}");
