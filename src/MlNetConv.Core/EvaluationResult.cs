namespace MlNetConv.Core;

/// <summary>Loss and accuracy over a dataset in inference mode.</summary>
public readonly record struct EvaluationResult(double Loss, double Accuracy, int Count);
