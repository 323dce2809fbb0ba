// LoadProbe MODEL.zip INDEX.tsv OUTPUT.bin: loads an ML.NET model zip in a fresh process, scores every row of
// INDEX.tsv (read with the model's input columns as text), and writes the Score vectors as little-endian floats.
// Prints whether MlNetConv was loaded before Model.Load (it must not be) and after (ML.NET loads it).
using Microsoft.ML;
using Microsoft.ML.Data;

static bool MlNetConvLoaded() => AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "MlNetConv");

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: LoadProbe MODEL.zip INDEX.tsv OUTPUT.bin");
    return 2;
}
Console.WriteLine($"MlNetConv loaded before Model.Load: {MlNetConvLoaded()}");
var ml = new MLContext();
ITransformer model = ml.Model.Load(args[0], out DataViewSchema inputSchema);
Console.WriteLine($"MlNetConv loaded after Model.Load: {MlNetConvLoaded()}");
var data = ml.Data.LoadFromTextFile(args[1], inputSchema.Select(c => new TextLoader.Column(c.Name, DataKind.String, c.Index)).ToArray());
IDataView scored = model.Transform(data);
using var output = new BinaryWriter(File.Create(args[2]));
int rows = 0;
foreach (float[] score in scored.GetColumn<float[]>("Score"))
{
    foreach (float value in score) output.Write(value);
    rows++;
}
Console.WriteLine($"scored {rows} rows");
return 0;
