using MlNetConv.Core.Geometry;
using MlNetConv.Core.Layers;

namespace MlNetConv.Core;

/// <summary>Ready-made layer stacks.</summary>
public static class Architectures
{
    /// <summary>
    /// The Keras textbook CNN for Fashion-MNIST (혼자 공부하는 머신러닝+딥러닝, 8-2): Conv2D(32, 3, same, relu) → MaxPooling2D(2)
    /// → Conv2D(64, 3, same, relu) → MaxPooling2D(2) → Flatten → Dense(100, relu) → Dropout(0.4) → Dense(10, softmax).
    /// On (1, 28, 28) inputs it has 320 + 18,496 + 313,700 + 1,010 = 333,526 parameters.
    /// </summary>
    public static Layer[] TextbookCnn(int classes = 10) =>
    [
        new Conv2D(32, 3, padding: Padding.Same, activation: Activation.Relu),
        new MaxPooling2D(2),
        new Conv2D(64, 3, padding: Padding.Same, activation: Activation.Relu),
        new MaxPooling2D(2),
        new Flatten(),
        new Dense(100, Activation.Relu),
        new Dropout(0.4),
        new Dense(classes, Activation.Softmax),
    ];
}
