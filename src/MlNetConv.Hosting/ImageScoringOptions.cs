namespace MlNetConv.Hosting;

/// <summary>How scored results are written.</summary>
public enum ResultFormat
{
    /// <summary>One JSON object per line.</summary>
    JsonLines,

    /// <summary>Comma-separated values with a header line.</summary>
    Csv,
}

/// <summary>Where the worker takes images from and puts results.</summary>
public enum ImageScoringTransport
{
    /// <summary>An inbox folder on one machine (the embedded default): result files in the outbox, inputs to done/ or failed/.</summary>
    Folder,

    /// <summary>A RabbitMQ quorum queue that workers on any number of machines compete for; results to a result queue.</summary>
    RabbitMq,
}

/// <summary>Settings of the image batch-scoring worker (configuration section "ImageScoring" by convention).</summary>
public sealed class ImageScoringOptions
{
    /// <summary>Folder (the default) or RabbitMq. The folder settings apply to Folder, <see cref="RabbitMq"/> to RabbitMq.</summary>
    public ImageScoringTransport Transport { get; set; } = ImageScoringTransport.Folder;

    /// <summary>The RabbitMQ transport's settings (section "ImageScoring:RabbitMq").</summary>
    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>
    /// The ML.NET model zip to score with: a pipeline that reads image files with LoadImages (from any path column) and
    /// ends in the MlNetConv CNN, optionally followed by MapKeyToValue. Checked at start-up.
    /// </summary>
    public string ModelPath { get; set; } = "";

    /// <summary>Folder transport: where images arrive. Claimed files move to Inbox/.claims while they are scored.</summary>
    public string Inbox { get; set; } = "";

    /// <summary>Folder transport: where result files go; done/ and failed/ are made inside it unless set elsewhere.</summary>
    public string Outbox { get; set; } = "";

    /// <summary>Scored inputs; default Outbox/done.</summary>
    public string? DoneDirectory { get; set; }

    /// <summary>Unreadable inputs, each with a ".reason.txt" beside it; default Outbox/failed.</summary>
    public string? FailedDirectory { get; set; }

    /// <summary>Images per scoring batch (and per result file of the folder transport).</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>File-name patterns of the images to score.</summary>
    public string[] FilePatterns { get; set; } = ["*.png", "*.jpg", "*.jpeg", "*.bmp"];

    /// <summary>Threads for decoding and scoring.</summary>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>How often the inbox is scanned in addition to file-system events (events can be missed).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The largest image accepted, in pixels (width × height); a larger one fails with the reason before it is decoded,
    /// so one huge or forged image cannot exhaust the worker's memory.
    /// </summary>
    public long MaxImagePixels { get; set; } = 50_000_000;

    /// <summary>JSON Lines or CSV.</summary>
    public ResultFormat ResultFormat { get; set; } = ResultFormat.JsonLines;

    internal string Done => DoneDirectory ?? Path.Combine(Outbox, "done");

    internal string Failed => FailedDirectory ?? Path.Combine(Outbox, "failed");

    internal string Claims => Path.Combine(Inbox, ".claims");
}
