using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlNetConv.Core.Onnx;

namespace FashionMnistExample;

/// <summary>The exported model.onnx run by ONNX Runtime beside MlNetConv's own scores.</summary>
internal static class OnnxCheck
{
    // ONNX Runtime's probabilities for the network inputs, 1,000 images a run, against MlNetConv's: the largest absolute
    // difference and how many predicted labels differ.
    public static (float MaxDifference, int LabelsDiffer) CompareWithOnnxRuntime(string onnxPath, float[][] features, float[] scores, int classes)
    {
        using var session = new InferenceSession(onnxPath);
        float max = 0;
        int labelsDiffer = 0;
        foreach (var chunk in features.Index().Chunk(1000))
        {
            int start = chunk[0].Index, n = chunk.Length;
            var input = new DenseTensor<float>(chunk.SelectMany(c => c.Item).ToArray(), [n, 1, 28, 28]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, input)]);
            float[] probabilities = results.Single(r => r.Name == OnnxExport.ProbabilitiesName).AsTensor<float>().ToArray();
            long[] classIndex = results.Single(r => r.Name == OnnxExport.ClassIndexName).AsTensor<long>().ToArray();
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> ours = scores.AsSpan((start + i) * classes, classes);
                for (int k = 0; k < classes; k++) max = Math.Max(max, Math.Abs(ours[k] - probabilities[i * classes + k]));
                if (TensorPrimitives.IndexOfMax(ours) != classIndex[i]) labelsDiffer++;
            }
        }
        return (max, labelsDiffer);
    }
}
