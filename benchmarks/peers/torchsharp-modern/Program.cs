// TorchSharp reference ("peer") benchmark for MlNetConv's modern preset: the same CNN, recipe and augmentation,
// trained with TorchSharp-cpu (libtorch CPU), so that MlNetConv's figures for it have an honest comparison.
// A variant of the textbook peer (../shared/peers/torchsharp): same CLI, same data handling, same output lines.
//
// Model reproduced: MlNetConv's Architectures.ModernCnn (src/MlNetConv.Core/Architectures.cs):
//   RandomFlip(horizontal)                  -> here on the batch tensor, each image mirrored with probability 1/2
//   Conv2D(32, 3x3, same, no bias) -> BatchNormalization -> ReLU -> MaxPooling2D(2)
//   Conv2D(64, 3x3, same, no bias) -> BatchNormalization -> ReLU -> MaxPooling2D(2)
//   Flatten -> Dense(128, no bias) -> BatchNormalization -> ReLU -> Dropout(0.4)
//   Dense(10, softmax)                      -> softmax folded into the loss
//   421,866 trainable parameters; BatchNormalization with Keras's momentum 0.99 and epsilon 1e-3 (PyTorch momentum 0.01).
// Recipe reproduced: the FashionMnist example's `--architecture modern` (examples/FashionMnist/Program.cs), as
// benchmarks/MlNetConv.Benchmarks/EndToEnd.cs's `--model modern` runs it (no validation split there):
//   AdamW (Keras 3: beta1 0.9, beta2 0.999, eps 1e-7, decoupled weight decay 0.05 on every parameter, p -= p*wd*lr);
//   CosineDecay with warm-up (src/MlNetConv.Core/Training/Schedules/CosineDecay.cs), set by hand before every step:
//   lr rises linearly from 0 to 2e-3 over the first epoch's steps, then a cosine to 0 over the remaining epochs;
//   cross-entropy with label smoothing 0.1 (Keras's (1 - s)*onehot + s/K; PyTorch's label_smoothing formula written out,
//   TorchSharp 0.107's CrossEntropyLoss has no such parameter);
//   batch 32, inputs scaled to [0,1], Keras init (glorot_uniform kernels, zero biases, BN gamma 1 and beta 0),
//   training data reshuffled every epoch.
// Known differences: PyTorch's running variance is the unbiased batch variance (Keras's and MlNetConv's the biased
// one: a factor 32/31 on the Dense BatchNormalization, ~1.0001 on the convolutional ones; it only moves the moving
// statistics), and PyTorch's AdamW adds eps to the bias-corrected sqrt(v), Keras's to the uncorrected one (the same as
// PyTorch's with eps/sqrt(1 - beta2^t), a larger eps over the first few thousand steps). Random streams (shuffle, flips,
// dropout) differ, of course. None of these changes the work done per image.

using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

internal static class Program
{
    // conv 288 + 18,432, dense 401,408 + 1,290, BatchNormalization gamma and beta 64 + 128 + 256.
    private const long ExpectedParams = 288 + 18_432 + 401_408 + 1_290 + 64 + 128 + 256; // 421,866

    private const double PeakLearningRate = 2e-3, WeightDecay = 0.05, LabelSmoothing = 0.1;

    private static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

        if (args.Contains("-h") || args.Contains("--help")) { Options.Usage(); return 0; }
        var opt = Options.Parse(args);
        if (opt == null) return 2;

        // Threads first: set_num_interop_threads must run before any inter-op parallel work starts.
        torch.set_num_threads(opt.Threads);
        torch.set_num_interop_threads(opt.Threads);

        PrintEnvironment(opt);

        // ---------------------------------------------------------------- data
        var sw = Stopwatch.StartNew();
        var (trainImgs, rows, cols) = Idx.ReadImages(Path.Combine(opt.DataDir, "train-images-idx3-ubyte.gz"));
        var trainLbls = Idx.ReadLabels(Path.Combine(opt.DataDir, "train-labels-idx1-ubyte.gz"));
        var (testImgs, trows, tcols) = Idx.ReadImages(Path.Combine(opt.DataDir, "t10k-images-idx3-ubyte.gz"));
        var testLbls = Idx.ReadLabels(Path.Combine(opt.DataDir, "t10k-labels-idx1-ubyte.gz"));
        if (rows != 28 || cols != 28 || trows != 28 || tcols != 28) throw new InvalidDataException("expected 28x28 images");
        if (trainImgs.Length / 784 != trainLbls.Length || testImgs.Length / 784 != testLbls.Length)
            throw new InvalidDataException("image/label count mismatch");

        int nTrainAll = trainLbls.Length;
        int nTrain = opt.TrainLimit > 0 ? Math.Min(opt.TrainLimit, nTrainAll) : nTrainAll;
        int nTest = testLbls.Length;

        Tensor trainX = ToImageTensor(trainImgs, nTrain);
        Tensor trainY = ToLabelTensor(trainLbls, nTrain);
        Tensor testX = ToImageTensor(testImgs, nTest);
        Tensor testY = ToLabelTensor(testLbls, nTest);
        Console.WriteLine($"data: {opt.DataDir}");
        Console.WriteLine($"data: train {nTrain} of {nTrainAll} images, test {nTest} images, 28x28, scaled to [0,1] " +
                          $"(train pixel mean {trainX.mean().item<float>():F4}); load {sw.Elapsed.TotalSeconds:F2} s");

        // ---------------------------------------------------------------- model
        torch.random.manual_seed(opt.Seed);
        var model = BuildModel();
        long total = 0;
        Console.WriteLine("model (PyTorch layout NCHW, as MlNetConv's; the horizontal flip is applied to each training batch before it):");
        foreach (var (name, p) in model.named_parameters())
        {
            Console.WriteLine($"  {name,-14} {string.Join("x", p.shape),-14} {p.numel(),9:N0}");
            total += p.numel();
        }
        Console.WriteLine($"  total trainable parameters: {total:N0} (expected {ExpectedParams:N0})");
        if (total != ExpectedParams)
        {
            Console.Error.WriteLine($"ASSERTION FAILED: parameter count {total} != {ExpectedParams}");
            return 1;
        }
        Console.WriteLine("  parameter count assertion: OK");

        // Keras's CosineDecay(0, decaySteps: (epochs - 1) * steps, warmupTarget: 2e-3, warmupSteps: steps), one epoch of warm-up.
        long stepsPerEpoch = (nTrain + opt.Batch - 1) / opt.Batch;
        long decaySteps = Math.Max(1, (opt.Epochs - 1) * stepsPerEpoch);
        double LearningRate(long step)
        {
            step = Math.Min(step, decaySteps + stepsPerEpoch);
            return step < stepsPerEpoch
                ? PeakLearningRate * step / stepsPerEpoch
                : PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - stepsPerEpoch) / decaySteps));
        }

        var optimizer = torch.optim.AdamW(model.parameters(), lr: LearningRate(0), beta1: 0.9, beta2: 0.999, eps: 1e-7, weight_decay: WeightDecay);
        // TorchSharp 0.107's CrossEntropyLoss has no label_smoothing: PyTorch's formula written out, on logits (softmax folded in).
        Tensor lossFn(Tensor logits, Tensor labels) => SmoothedCrossEntropy(logits, labels, LabelSmoothing);
        Console.WriteLine($"optimizer: AdamW beta1=0.9 beta2=0.999 eps=1e-7 weight decay {WeightDecay} (all parameters); " +
                          $"lr: linear warm-up 0 -> {PeakLearningRate} over {stepsPerEpoch} steps, cosine to 0 over {decaySteps} steps; " +
                          $"loss: cross-entropy on logits, label smoothing {LabelSmoothing}; augmentation: random horizontal flip; " +
                          $"batch {opt.Batch}; epochs {opt.Epochs}; seed {opt.Seed}; shuffle every epoch");
        Console.WriteLine();

        // ---------------------------------------------------------------- training
        // Contention check: during the timed training part, CPU seconds used by this process vs. by everything
        // else on the machine (/proc/stat busy time minus ours), and hypervisor steal time.
        Console.WriteLine("epoch | train loss | train acc | test loss | test acc | train wall s | train img/s | test-eval s | CPU s this proc | CPU s others | steal s");
        var epochRates = new List<double>();
        var gen = new torch.Generator((ulong)opt.Seed + 1);
        var flipGen = new torch.Generator((ulong)opt.Seed + 2);
        long step = 0;
        for (int epoch = 1; epoch <= opt.Epochs; epoch++)
        {
            model.train();
            double lossSum = 0;
            long correct = 0;
            int seen = 0;
            Tensor perm = torch.randperm(nTrain, generator: gen);

            var cpu0 = CpuSnap.Take();
            var tsw = Stopwatch.StartNew();
            for (int start = 0; start < nTrain; start += opt.Batch)
            {
                using var scope = torch.NewDisposeScope();
                int len = Math.Min(opt.Batch, nTrain - start);
                var idx = perm.narrow(0, start, len);
                var x = trainX.index_select(0, idx);
                var y = trainY.index_select(0, idx);
                // RandomFlip(horizontal): each image mirrored left-right (along W) with probability 1/2.
                var flip = torch.rand(len, generator: flipGen).lt(0.5).view(len, 1, 1, 1);
                x = torch.where(flip, x.flip(3), x);

                foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate(step);
                optimizer.zero_grad();
                var logits = model.forward(x);
                var loss = lossFn(logits, y);
                loss.backward();
                optimizer.step();
                step++;

                lossSum += loss.item<float>() * len;
                correct += logits.argmax(1).eq(y).sum().item<long>();
                seen += len;
            }
            tsw.Stop();
            var cpuD = CpuSnap.Take() - cpu0;
            perm.Dispose();

            double trainSec = tsw.Elapsed.TotalSeconds;
            double rate = seen / trainSec;
            epochRates.Add(rate);

            var esw = Stopwatch.StartNew();
            var (testLoss, testAcc) = Evaluate(model, lossFn, testX, testY, 256);
            esw.Stop();

            Console.WriteLine($"{epoch,5} | {lossSum / seen,10:F4} | {(double)correct / seen,9:F4} | {testLoss,9:F4} | " +
                              $"{testAcc,8:F4} | {trainSec,12:F2} | {rate,11:F1} | {esw.Elapsed.TotalSeconds,11:F2} | {cpuD.Proc,15:F1} | {cpuD.Others,12:F1} | {cpuD.Steal,7:F1}");
        }
        if (epochRates.Count > 0)
            Console.WriteLine($"training throughput: mean {epochRates.Average():F1} img/s over {epochRates.Count} epoch(s) " +
                              $"(min {epochRates.Min():F1}, max {epochRates.Max():F1}); threads {opt.Threads}, batch {opt.Batch}");
        Console.WriteLine();

        // ---------------------------------------------------------------- inference
        model.eval();
        using (torch.no_grad())
        {
            // warm-up (not timed)
            using (var ws = torch.NewDisposeScope())
            {
                model.forward(testX.narrow(0, 0, Math.Min(256, nTest)));
                for (int i = 0; i < 20; i++) model.forward(testX.narrow(0, i, 1));
            }

            foreach (int bs in new[] { 256, 32 })
            {
                var c0 = CpuSnap.Take();
                var bsw = Stopwatch.StartNew();
                long ok = 0;
                for (int start = 0; start < nTest; start += bs)
                {
                    using var scope = torch.NewDisposeScope();
                    int len = Math.Min(bs, nTest - start);
                    var pred = model.forward(testX.narrow(0, start, len)).argmax(1);
                    ok += pred.eq(testY.narrow(0, start, len)).sum().item<long>();
                }
                bsw.Stop();
                var d = CpuSnap.Take() - c0;
                Console.WriteLine($"inference batch {bs}{(bs == 256 ? "" : " (extra)")}: {nTest} images in {bsw.Elapsed.TotalSeconds:F3} s = " +
                                  $"{nTest / bsw.Elapsed.TotalSeconds:F1} img/s (eval mode, no_grad; accuracy {(double)ok / nTest:F4}; " +
                                  $"CPU s this proc {d.Proc:F1}, others {d.Others:F1}, steal {d.Steal:F1})");
            }

            int nSingle = Math.Min(2000, nTest);
            var c1 = CpuSnap.Take();
            var isw = Stopwatch.StartNew();
            long chk = 0;
            for (int i = 0; i < nSingle; i++)
            {
                using var scope = torch.NewDisposeScope();
                var pred = model.forward(testX.narrow(0, i, 1)).argmax(1);
                chk += pred.eq(testY.narrow(0, i, 1)).sum().item<long>();
            }
            isw.Stop();
            var d1 = CpuSnap.Take() - c1;
            double r1 = nSingle / isw.Elapsed.TotalSeconds;
            Console.WriteLine($"inference batch 1: {nSingle} single images in {isw.Elapsed.TotalSeconds:F3} s = {r1:F1} img/s " +
                              $"({isw.Elapsed.TotalMilliseconds / nSingle:F3} ms/img; accuracy on those {(double)chk / nSingle:F4}; " +
                              $"CPU s this proc {d1.Proc:F1}, others {d1.Others:F1}, steal {d1.Steal:F1})");
        }

        // ---------------------------------------------------------------- memory
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        string hwm = ProcStatus("VmHWM");
        string rss = ProcStatus("VmRSS");
        Console.WriteLine($"peak working set: {proc.PeakWorkingSet64 / (1024.0 * 1024.0):F1} MiB (Process.PeakWorkingSet64); " +
                          $"/proc/self/status VmHWM {hwm}, VmRSS now {rss}; managed heap {GC.GetTotalMemory(false) / (1024.0 * 1024.0):F1} MiB");
        Console.WriteLine($"total process wall time {(DateTime.Now - proc.StartTime).TotalSeconds:F1} s; " +
                          $"process CPU time {proc.TotalProcessorTime.TotalSeconds:F1} s (user {proc.UserProcessorTime.TotalSeconds:F1} s)");
        return 0;
    }

    private static nn.Module<Tensor, Tensor> BuildModel()
    {
        // BatchNormalization: Keras's moving = moving*0.99 + batch*0.01 is PyTorch's momentum 0.01; epsilon 1e-3.
        var model = nn.Sequential(
            ("conv1", nn.Conv2d(1, 32, 3, stride: 1, padding: 1, bias: false)),   // 3x3, 'same'
            ("bn1", nn.BatchNorm2d(32, eps: 1e-3, momentum: 0.01)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),                                         // 28 -> 14
            ("conv2", nn.Conv2d(32, 64, 3, stride: 1, padding: 1, bias: false)),
            ("bn2", nn.BatchNorm2d(64, eps: 1e-3, momentum: 0.01)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),                                         // 14 -> 7
            ("flatten", nn.Flatten()),                                          // 64*7*7 = 3136, channels first as MlNetConv
            ("fc1", nn.Linear(3136, 128, hasBias: false)),
            ("bn3", nn.BatchNorm1d(128, eps: 1e-3, momentum: 0.01)),
            ("relu3", nn.ReLU()),
            ("drop", nn.Dropout(0.4)),
            ("fc2", nn.Linear(128, 10)));                                       // softmax folded into the loss

        // Keras defaults: glorot_uniform kernels, zero biases; BatchNormalization gamma ones, beta zeros.
        using (torch.no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.StartsWith("bn")) { if (name.EndsWith(".weight")) nn.init.ones_(p); else nn.init.zeros_(p); }
                else if (name.EndsWith(".weight")) nn.init.xavier_uniform_(p);
                else if (name.EndsWith(".bias")) nn.init.zeros_(p);
            }
        }
        return model;
    }

    /// <summary>
    /// Mean cross-entropy of softmax(logits) against smoothed targets (1 - s)*onehot(label) + s/K: Keras's label_smoothing
    /// and PyTorch's, = (1 - s)*NLL + s*mean over classes of -log p.
    /// </summary>
    private static Tensor SmoothedCrossEntropy(Tensor logits, Tensor labels, double s)
    {
        var logp = nn.functional.log_softmax(logits, 1);
        var nll = -logp.gather(1, labels.unsqueeze(1)).mean();
        var uniform = -logp.mean(new long[] { 1 }).mean();
        return nll * (1 - s) + uniform * s;
    }

    private static (double loss, double acc) Evaluate(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> lossFn,
                                                      Tensor x, Tensor y, int batch)
    {
        model.eval();
        long n = x.shape[0];
        double lossSum = 0;
        long correct = 0;
        using (torch.no_grad())
        {
            for (long start = 0; start < n; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                long len = Math.Min(batch, n - start);
                var xb = x.narrow(0, start, len);
                var yb = y.narrow(0, start, len);
                var logits = model.forward(xb);
                lossSum += lossFn(logits, yb).item<float>() * len;
                correct += logits.argmax(1).eq(yb).sum().item<long>();
            }
        }
        model.train();
        return (lossSum / n, (double)correct / n);
    }

    private static Tensor ToImageTensor(byte[] pixels, int count)
    {
        var slice = new byte[count * 784];
        Array.Copy(pixels, slice, slice.Length);
        using var u8 = torch.tensor(slice, new long[] { count, 1, 28, 28 });
        return u8.to_type(ScalarType.Float32).div_(255f);
    }

    private static Tensor ToLabelTensor(byte[] labels, int count)
    {
        var l = new long[count];
        for (int i = 0; i < count; i++) l[i] = labels[i];
        return torch.tensor(l);
    }

    private static string ProcStatus(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key + ":")) return line.Substring(key.Length + 1).Trim();
        }
        catch { }
        return "n/a";
    }

    // ------------------------------------------------------------------ environment report
    private static void PrintEnvironment(Options opt)
    {
        Console.WriteLine("=== TorchSharp peer benchmark: MlNetConv's modern CNN (BatchNormalization, flips, AdamW, cosine) on Fashion-MNIST ===");
        Console.WriteLine($"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}");
        Console.WriteLine($"command line: {string.Join(' ', Environment.GetCommandLineArgs())}");
        Console.WriteLine($"options: epochs={opt.Epochs} threads={opt.Threads} batch={opt.Batch} train-limit={(opt.TrainLimit > 0 ? opt.TrainLimit.ToString() : "none")} seed={opt.Seed}");
        Console.WriteLine($".NET: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}; Environment.ProcessorCount={Environment.ProcessorCount}");
        Console.WriteLine($"CPU: {CpuModel()}");
        Console.WriteLine($"CPU AVX-512 flags: {CpuAvx512Flags()}");

        var asm = typeof(torch).Assembly;
        var info = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Console.WriteLine($"TorchSharp assembly: {asm.GetName().Version} (informational {info ?? "n/a"})");
        try { Console.WriteLine($"torch.__version__: {torch.__version__}"); } catch (Exception e) { Console.WriteLine($"torch.__version__: n/a ({e.GetType().Name})"); }
        Console.WriteLine($"torch threads: intra-op get_num_threads()={torch.get_num_threads()}, inter-op get_num_interop_threads()={torch.get_num_interop_threads()}");
        foreach (var v in new[] { "OMP_NUM_THREADS", "MKL_NUM_THREADS" })
            Console.WriteLine($"env {v}={Environment.GetEnvironmentVariable(v) ?? "(unset)"}");
        NativeConfig.Print();
        Console.WriteLine();
    }

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name")) return line.Split(':', 2)[1].Trim();
        }
        catch { }
        return "n/a";
    }

    private static string CpuAvx512Flags()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("flags"))
                {
                    var f = line.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                                .Where(s => s.StartsWith("avx512")).ToArray();
                    return f.Length == 0 ? "none" : string.Join(' ', f);
                }
        }
        catch { }
        return "n/a";
    }
}

/// <summary>
/// TorchSharp has no torch.__config__.show(); libtorch_cpu.so exports the C++ functions behind it
/// (at::show_config, at::get_parallel_info, at::Context::hasMKL ...). They are called here directly
/// by mangled name. Functions returning std::string use the SysV x86-64 hidden return pointer (sret);
/// the libstdc++ (cxx11 ABI) std::string layout is {char* data; size_t size; ...}. Linux x64 only;
/// strings are leaked on purpose (a few KiB, once).
/// </summary>
internal static unsafe class NativeConfig
{
    public static void Print()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Console.WriteLine("libtorch config: (only queried on linux-x64)");
            return;
        }
        IntPtr lib = IntPtr.Zero;
        var candidates = new[]
        {
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libtorch_cpu.so"),
            Path.Combine(AppContext.BaseDirectory, "libtorch_cpu.so"),
            "libtorch_cpu.so",
        };
        foreach (var c in candidates)
            if (NativeLibrary.TryLoad(c, out lib)) { Console.WriteLine($"libtorch_cpu: {c}"); break; }
        if (lib == IntPtr.Zero) { Console.WriteLine("libtorch config: libtorch_cpu.so not found"); return; }

        Console.WriteLine($"at::Context hasMKL={Bool(lib, "_ZN2at7Context6hasMKLEv")} hasMKLDNN(oneDNN)={Bool(lib, "_ZN2at7Context9hasMKLDNNEv")} hasOpenMP={Bool(lib, "_ZN2at7Context9hasOpenMPEv")}");
        Console.WriteLine($"at::get_cpu_capability(): {Str(lib, "_ZN2at18get_cpu_capabilityB5cxx11Ev")}");
        Console.WriteLine($"at::get_mkl_version(): {Str(lib, "_ZN2at15get_mkl_versionB5cxx11Ev")}");
        Console.WriteLine($"at::get_mkldnn_version(): {Str(lib, "_ZN2at18get_mkldnn_versionB5cxx11Ev")}");
        Console.WriteLine($"at::get_openmp_version(): {Str(lib, "_ZN2at18get_openmp_versionB5cxx11Ev")}");
        Console.WriteLine("--- at::show_config() (== torch.__config__.show()) ---");
        Console.WriteLine(Str(lib, "_ZN2at11show_configB5cxx11Ev").TrimEnd());
        Console.WriteLine("--- at::get_parallel_info() (== torch.__config__.parallel_info()) ---");
        Console.WriteLine(Str(lib, "_ZN2at17get_parallel_infoB5cxx11Ev").TrimEnd());
        Console.WriteLine("---");
    }

    private static string Bool(IntPtr lib, string sym)
    {
        if (!NativeLibrary.TryGetExport(lib, sym, out var f)) return "n/a";
        var fn = (delegate* unmanaged<byte>)f;
        return fn() != 0 ? "true" : "false";
    }

    private static string Str(IntPtr lib, string sym)
    {
        if (!NativeLibrary.TryGetExport(lib, sym, out var f)) return "n/a";
        var fn = (delegate* unmanaged<void*, void*>)f;
        var ret = (byte*)NativeMemory.AllocZeroed(64);
        fn(ret);
        var data = *(byte**)ret;
        var size = *(ulong*)(ret + 8);
        if (data == null || size > (1 << 20)) return "n/a (unexpected std::string layout)";
        return System.Text.Encoding.UTF8.GetString(data, (int)size);
    }
}

/// <summary>CPU seconds: this process (/proc/self/stat utime+stime), whole machine busy time and steal (/proc/stat).</summary>
internal readonly record struct CpuSnap(double Proc, double Busy, double Steal)
{
    private const double Hz = 100.0; // USER_HZ on Linux

    public double Others => Math.Max(0, Busy - Proc);

    public static CpuSnap operator -(CpuSnap a, CpuSnap b) => new(a.Proc - b.Proc, a.Busy - b.Busy, a.Steal - b.Steal);

    public static CpuSnap Take()
    {
        try
        {
            // /proc/self/stat: fields after the ")" : state(3) ... utime(14) stime(15)
            var st = File.ReadAllText("/proc/self/stat");
            var f = st[(st.LastIndexOf(')') + 2)..].Split(' ');
            double proc = (double.Parse(f[11]) + double.Parse(f[12])) / Hz;
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
            double[] v = cpu.Skip(1).Select(double.Parse).ToArray();
            double busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / Hz;
            double steal = v.Length > 7 ? v[7] / Hz : 0;
            return new CpuSnap(proc, busy, steal);
        }
        catch
        {
            return new CpuSnap(0, 0, 0);
        }
    }
}

/// <summary>Minimal reader for gzip-compressed IDX files (big-endian header).</summary>
internal static class Idx
{
    public static (byte[] pixels, int rows, int cols) ReadImages(string path)
    {
        var b = ReadAll(path);
        int magic = BE(b, 0);
        if (magic != 0x00000803) throw new InvalidDataException($"{path}: bad image magic 0x{magic:X8}");
        int n = BE(b, 4), rows = BE(b, 8), cols = BE(b, 12);
        long need = 16L + (long)n * rows * cols;
        if (b.Length != need) throw new InvalidDataException($"{path}: length {b.Length}, expected {need}");
        var px = new byte[n * rows * cols];
        Buffer.BlockCopy(b, 16, px, 0, px.Length);
        return (px, rows, cols);
    }

    public static byte[] ReadLabels(string path)
    {
        var b = ReadAll(path);
        int magic = BE(b, 0);
        if (magic != 0x00000801) throw new InvalidDataException($"{path}: bad label magic 0x{magic:X8}");
        int n = BE(b, 4);
        if (b.Length != 8 + n) throw new InvalidDataException($"{path}: length {b.Length}, expected {8 + n}");
        var l = new byte[n];
        Buffer.BlockCopy(b, 8, l, 0, n);
        foreach (var v in l) if (v > 9) throw new InvalidDataException($"{path}: label {v} out of range");
        return l;
    }

    private static byte[] ReadAll(string path)
    {
        using var fs = File.OpenRead(path);
        using var gz = new GZipStream(fs, CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    private static int BE(byte[] b, int o) => (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

internal sealed class Options
{
    public int Epochs = 5;
    public int Threads = 2;
    public int Batch = 32;
    public int TrainLimit = 0;
    public long Seed = 42;
    public string DataDir = Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist");

    public static void Usage() =>
        Console.WriteLine("usage: TorchSharpModernPeer [--epochs N=5] [--threads N=2] [--batch N=32] [--train-limit N] [--seed N=42] [--data DIR]");

    public static Options? Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--epochs": o.Epochs = int.Parse(Next()); break;
                case "--threads": o.Threads = int.Parse(Next()); break;
                case "--batch": o.Batch = int.Parse(Next()); break;
                case "--train-limit": o.TrainLimit = int.Parse(Next()); break;
                case "--seed": o.Seed = long.Parse(Next()); break;
                case "--data": o.DataDir = Next(); break;
                default:
                    Console.Error.WriteLine($"unknown option {a}; try --help");
                    return null;
            }
        }
        if (o.Epochs < 0 || o.Threads < 1 || o.Batch < 1 || o.TrainLimit < 0) { Console.Error.WriteLine("bad option value"); return null; }
        return o;
    }
}
