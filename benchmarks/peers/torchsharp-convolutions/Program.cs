using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

// Times Conv2D layers (bias, ReLU) alone in libtorch, as MlNetConv's `convolutions` benchmark times its own: inference
// (forward under no_grad) and one training step (forward, then backward from a fixed output gradient into the weight,
// bias and input gradients), interleaved, after a warm-up, about 1.2 GFLOP of forward passes (5 to 200 repetitions) of
// each; medians in µs.
// "same" padding is symmetric here, (R − 1)/2 on each side: for odd windows the output has Keras's size (Keras puts the
// odd pixel of a stride-2 window after the image instead), so the arithmetic is the same.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
int threads = 2;
var specs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--threads": threads = int.Parse(Next()); break;
        case "--conv": specs.Add(Next()); break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}\nusage: TorchSharpConvolutionsPeer [--threads N=2] --conv N,C,H,K,R,stride,same|valid [--conv ...]");
            return 2;
    }
}
torch.set_num_threads(threads);
torch.set_num_interop_threads(threads);
torch.manual_seed(1);
foreach (string spec in specs)
{
    string[] f = spec.Split(',');
    if (f.Length != 7 || f[6] is not ("same" or "valid")) throw new ArgumentException($"--conv takes N,C,H,K,R,stride,same|valid; got '{spec}'.");
    int n = int.Parse(f[0]), c = int.Parse(f[1]), h = int.Parse(f[2]), k = int.Parse(f[3]), r = int.Parse(f[4]), stride = int.Parse(f[5]);
    long padding = f[6] == "same" ? (r - 1) / 2 : 0;
    using var conv = nn.Conv2d(c, k, r, stride: stride, padding: padding);
    using var x = torch.rand(n, c, h, h).sub_(0.5);
    long size = (h + 2 * padding - r) / stride + 1;
    using var dy = torch.rand(n, k, size, size).sub_(0.5);
    double flops = 2.0 * n * k * c * r * r * size * size;
    int repetitions = Math.Clamp((int)(1.2e9 / flops), 5, 200);
    var inference = new List<double>();
    var training = new List<double>();
    // The warm-up the MlNetConv side has: 40 passes or a second, whichever comes first.
    long warmUp = Stopwatch.GetTimestamp();
    int warmUps = 0;
    while (warmUps < 2 || (warmUps < 40 && Stopwatch.GetElapsedTime(warmUp).TotalSeconds < 1))
    {
        warmUps++;
        using var scope = torch.NewDisposeScope();
        using (torch.no_grad()) nn.functional.relu(conv.forward(x));
        conv.zero_grad();
        nn.functional.relu(conv.forward(x.detach().requires_grad_(true))).backward([dy]);
    }
    for (int i = 0; i < repetitions; i++)
    {
        double inferenceTime, trainingTime;
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            long start = Stopwatch.GetTimestamp();
            nn.functional.relu(conv.forward(x));
            inferenceTime = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        using (torch.NewDisposeScope())
        {
            conv.zero_grad();
            var input = x.detach().requires_grad_(true);
            long start = Stopwatch.GetTimestamp();
            var y = nn.functional.relu(conv.forward(input));
            y.backward([dy]);
            trainingTime = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        inference.Add(inferenceTime);
        training.Add(trainingTime);
    }
    Console.WriteLine($"conv {spec} inference_us={Median(inference):F1} training_us={Median(training):F1}");
}
return 0;

static double Median(List<double> values)
{
    values.Sort();
    return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
}
