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

    /// <summary>
    /// A small modern CNN: the textbook's two convolutions as conv-BN-ReLU blocks (without bias, which BatchNormalization's
    /// β replaces) after horizontal flips, and a dense head with BatchNormalization and dropout:
    /// RandomFlip(horizontal) → [Conv2D(32, 3, same) → BN → ReLU] → MaxPooling2D(2) → [Conv2D(64, 3, same) → BN → ReLU]
    /// → MaxPooling2D(2) → Flatten → Dense(128) → BN → ReLU → Dropout(0.4) → Dense(classes, softmax).
    /// Train it with AdamW, a cosine schedule with warm-up and label smoothing (the FashionMnist example's
    /// <c>--architecture modern</c>).
    /// </summary>
    public static Layer[] ModernCnn(int classes = 10) =>
    [
        new RandomFlip(FlipMode.Horizontal),
        new Conv2D(32, 3, padding: Padding.Same, useBias: false),
        new BatchNormalization(),
        new ActivationLayer(Activation.Relu),
        new MaxPooling2D(2),
        new Conv2D(64, 3, padding: Padding.Same, useBias: false),
        new BatchNormalization(),
        new ActivationLayer(Activation.Relu),
        new MaxPooling2D(2),
        new Flatten(),
        new Dense(128, useBias: false),
        new BatchNormalization(),
        new ActivationLayer(Activation.Relu),
        new Dropout(0.4),
        new Dense(classes, Activation.Softmax),
    ];
}
