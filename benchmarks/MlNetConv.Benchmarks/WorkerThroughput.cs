using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using RabbitMQ.Client;
using MlNetConv.Core.Data;
using MlNetConv.Data;
using MlNetConv.Hosting;
using MlNetConv.Tests.Shared;

namespace MlNetConv.Benchmarks;

/// <summary>
/// The batch-scoring worker end to end, on the same 28×28 PNG files: the folder inbox (claim, decode, score, result
/// file, move) and the RabbitMQ transport (images in the messages; deliver, decode, score, publish with confirms, ack),
/// each with 1 and 2 worker processes of examples/BatchScoringWorker, on a private broker node on loopback.
/// <c>workers [--images N] [--batch B]</c>.
/// </summary>
internal static class WorkerThroughput
{
    public static int Run(string[] args)
    {
        int images = Option(args, "--images", 20000), batch = Option(args, "--batch", 128);
        string root = Directory.CreateTempSubdirectory("mlnetconv-worker-benchmark").FullName;
        try
        {
            Console.WriteLine($"CPU: {Machine.Processor()}, {Environment.ProcessorCount} cores; {images} images of 28×28 PNG, batch {batch}");
            var (model, files) = Prepare(root, images);
            var rows = new List<(string Transport, int Workers, (double ImagesPerSecond, double StartSeconds) Result)>();
            foreach (int workers in new[] { 1, 2 }) rows.Add(("folder inbox", workers, Folder(root, model, files, workers, batch)));
            using (var node = new RabbitMqNode())
                foreach (int workers in new[] { 1, 2 }) rows.Add(("RabbitMQ", workers, RabbitMq(node, model, files, workers, batch).GetAwaiter().GetResult()));
            Console.WriteLine();
            Console.WriteLine("| transport | workers | images/s | start (load, warm-up), s |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var (transport, workers, (rate, start)) in rows) Console.WriteLine($"| {transport} | {workers} | {rate:N0} | {start:F1} |");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // A LoadImages model zip trained for one epoch on PNG files (scoring speed does not depend on the weights), and the
    // images to score, flat in one folder.
    private static (string Model, string[] Files) Prepare(string root, int count)
    {
        var (train, test) = FashionMnist.Load(RepositoryData.SubsetDirectory);
        string trainIndex = Path.Combine(root, "train.tsv"), testIndex = Path.Combine(root, "test.tsv");
        FashionMnistData.ExportPngFolders(train.Slice(0, 2000), FashionMnist.ClassNames, Path.Combine(root, "train"), trainIndex);
        FashionMnistData.ExportPngFolders(test, FashionMnist.ClassNames, Path.Combine(root, "test"), testIndex);
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromTextFile(trainIndex,
            [new Microsoft.ML.Data.TextLoader.Column("ImagePath", Microsoft.ML.Data.DataKind.String, 0), new Microsoft.ML.Data.TextLoader.Column("Label", Microsoft.ML.Data.DataKind.String, 1)],
            separatorChar: '\t');
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", root, "ImagePath"))
            .Append(ml.Transforms.ConvertToGrayscale("Image"))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
            .Append(ml.MulticlassClassification.Trainers.ConvNet(new ConvNetOptions { Epochs = 1, ValidationSplit = 0, EarlyStopping = null }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        string model = Path.Combine(root, "model.zip");
        ml.Model.Save(pipeline.Fit(data), data.Schema, model);
        string[] sources = [.. File.ReadLines(testIndex).Select(line => Path.Combine(root, line.Split('\t')[0]))];
        string images = Directory.CreateDirectory(Path.Combine(root, "images")).FullName;
        string[] files = [.. Enumerable.Range(0, count).Select(i => Path.Combine(images, $"image-{i:D6}.png"))];
        for (int i = 0; i < count; i++) File.Copy(sources[i % sources.Length], files[i]);
        return (model, files);
    }

    // Images/s, and the seconds from starting the worker processes until all of them took work (folder: claimed their
    // folders; RabbitMQ: the first result), which includes loading the model and the warm-up.
    private static (double, double) Folder(string root, string model, string[] files, int workers, int batch)
    {
        string run = Directory.CreateDirectory(Path.Combine(root, $"folder-{workers}")).FullName;
        string inbox = Directory.CreateDirectory(Path.Combine(run, "inbox")).FullName, outbox = Path.Combine(run, "outbox");
        string staging = Directory.CreateDirectory(Path.Combine(run, "staging")).FullName;
        foreach (string file in files) File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
        var settings = new Dictionary<string, string?>
        {
            ["ImageScoring:ModelPath"] = model,
            ["ImageScoring:Inbox"] = inbox,
            ["ImageScoring:Outbox"] = outbox,
            ["ImageScoring:BatchSize"] = batch.ToString(),
            ["ImageScoring:MaxDegreeOfParallelism"] = (Environment.ProcessorCount / workers).ToString(),
            ["ImageScoring:PollInterval"] = "00:00:00.100",
        };
        var starting = Stopwatch.StartNew();
        var processes = Enumerable.Range(0, workers).Select(_ => StartWorker(settings)).ToList();
        WaitUntil(() => Directory.Exists(Path.Combine(inbox, ".claims")) && Directory.GetDirectories(Path.Combine(inbox, ".claims")).Length == workers, "the folder workers to start");
        double start = starting.Elapsed.TotalSeconds;
        var clock = Stopwatch.StartNew();
        foreach (string file in Directory.GetFiles(staging)) File.Move(file, Path.Combine(inbox, Path.GetFileName(file)));
        // Counted from the result files (a few hundred, each read once) and only then from done/: listing 20,000 files
        // every few milliseconds took a good share of the two cores the workers were measured on.
        var counted = new HashSet<string>();
        int results = 0;
        WaitUntil(() =>
        {
            foreach (string file in Directory.EnumerateFiles(outbox, "results-*"))
                if (counted.Add(file)) results += File.ReadLines(file).Count();
            return results >= files.Length;
        }, "the folder workers to score every image", milliseconds: 20);
        string done = Path.Combine(outbox, "done");
        WaitUntil(() => Directory.GetFiles(done).Length == files.Length, "the folder workers to move every image to done/");
        double rate = files.Length / clock.Elapsed.TotalSeconds;
        Stop(processes);
        Console.WriteLine($"folder inbox, {workers} worker(s): {files.Length} images in {clock.Elapsed.TotalSeconds:F2} s, started in {start:F1} s");
        return (rate, start);
    }

    private static async Task<(double, double)> RabbitMq(RabbitMqNode node, string model, string[] files, int workers, int batch)
    {
        RabbitMqOptions broker = RabbitMqTestSettings.FreshQueues(node.Uri, $"benchmark-{workers}-{Guid.NewGuid().ToString("N")[..6]}");
        await using (var client = await RabbitMqScoringClient.ConnectAsync(broker))
            await client.EnqueueFolderAsync(Path.GetDirectoryName(files[0])!, ["*.png"]);
        var settings = RabbitMqTestSettings.Worker(broker, model, batch, Environment.ProcessorCount / workers);
        var starting = Stopwatch.StartNew();
        var processes = Enumerable.Range(0, workers).Select(_ => StartWorker(settings)).ToList();
        // Timed from the first result, when the workers have loaded the model and are taking requests; counted on one
        // connection of its own (a connection per look cost the broker, on the same two cores, more than the looks).
        await using IConnection watch = await new ConnectionFactory { Uri = new Uri(node.Uri) }.CreateConnectionAsync();
        await using IChannel counter = await watch.CreateChannelAsync();
        uint Results() => counter.MessageCountAsync(broker.ResultQueue).GetAwaiter().GetResult();
        WaitUntil(() => Results() > 0, "the first result", milliseconds: 1);
        double start = starting.Elapsed.TotalSeconds;
        var clock = Stopwatch.StartNew();
        uint first = Results();
        WaitUntil(() => Results() == files.Length, "every result", milliseconds: 20);
        double rate = (files.Length - first) / clock.Elapsed.TotalSeconds;
        Stop(processes);
        Console.WriteLine($"RabbitMQ, {workers} worker(s): {files.Length - first} images in {clock.Elapsed.TotalSeconds:F2} s after the first {first}, started in {start:F1} s");
        return (rate, start);
    }

    private static Process StartWorker(Dictionary<string, string?> settings)
    {
        var process = WorkerProcess.Start(["--Logging:LogLevel:Default=Warning", .. WorkerProcess.Arguments(settings)]);
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static void Stop(List<Process> processes)
    {
        foreach (Process process in processes)
        {
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString()])) term.WaitForExit();
            if (!process.WaitForExit(30_000)) process.Kill();
        }
    }

    private static void WaitUntil(Func<bool> condition, string what, int milliseconds = 10)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException($"Timed out waiting for {what}.");
            Thread.Sleep(milliseconds);
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1]) : fallback;
    }
}
