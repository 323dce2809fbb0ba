using Microsoft.Extensions.Options;

namespace MlNetConv.Hosting;

/// <summary>
/// Checks the options at start-up (ValidateOnStart): every number in range, the model zip present; for the folder
/// transport the inbox readable and the outbox, done and failed folders writable (they are created, and a probe file is
/// written and removed); for RabbitMQ an amqp URI, distinct queue names and sane limits.
/// </summary>
internal sealed class ImageScoringOptionsValidator : IValidateOptions<ImageScoringOptions>
{
    public ValidateOptionsResult Validate(string? name, ImageScoringOptions options)
    {
        var errors = new List<string>();
        if (options.BatchSize is < 1 or > 4096) errors.Add($"ImageScoring:BatchSize must be 1 to 4096; it is {options.BatchSize}.");
        if (options.MaxDegreeOfParallelism < 1) errors.Add($"ImageScoring:MaxDegreeOfParallelism must be at least 1; it is {options.MaxDegreeOfParallelism}.");
        if (options.MaxImagePixels < 1) errors.Add($"ImageScoring:MaxImagePixels must be at least 1; it is {options.MaxImagePixels}.");
        if (options.PollInterval <= TimeSpan.Zero) errors.Add($"ImageScoring:PollInterval must be positive; it is {options.PollInterval}.");
        if (options.FilePatterns is not { Length: > 0 } || options.FilePatterns.Any(string.IsNullOrWhiteSpace))
            errors.Add("ImageScoring:FilePatterns must list at least one non-empty pattern.");
        if (!Enum.IsDefined(options.ResultFormat)) errors.Add($"ImageScoring:ResultFormat {options.ResultFormat} is unknown.");
        if (string.IsNullOrWhiteSpace(options.ModelPath)) errors.Add("ImageScoring:ModelPath is not set.");
        else if (!File.Exists(options.ModelPath)) errors.Add($"ImageScoring:ModelPath: no model zip at '{Path.GetFullPath(options.ModelPath)}'.");
        if (!Enum.IsDefined(options.Transport)) errors.Add($"ImageScoring:Transport {options.Transport} is unknown; use Folder or RabbitMq.");
        else if (options.Transport == ImageScoringTransport.Folder)
        {
            if (string.IsNullOrWhiteSpace(options.Inbox)) errors.Add("ImageScoring:Inbox is not set.");
            else if (!Directory.Exists(options.Inbox)) errors.Add($"ImageScoring:Inbox: no folder at '{Path.GetFullPath(options.Inbox)}'.");
            else
            {
                try { _ = Directory.EnumerateFileSystemEntries(options.Inbox).FirstOrDefault(); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { errors.Add($"ImageScoring:Inbox '{options.Inbox}' cannot be read: {e.Message}"); }
                CheckWritable(options.Claims, "Inbox (its .claims folder)", errors);
            }
            if (string.IsNullOrWhiteSpace(options.Outbox)) errors.Add("ImageScoring:Outbox is not set.");
            else
            {
                CheckWritable(options.Outbox, "Outbox", errors);
                CheckWritable(options.Done, "DoneDirectory", errors);
                CheckWritable(options.Failed, "FailedDirectory", errors);
            }
        }
        else ValidateRabbitMq(options.RabbitMq, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRabbitMq(RabbitMqOptions broker, List<string> errors)
    {
        string[] brokers = (broker.Uri ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (brokers.Length == 0 || brokers.Any(b => !Uri.TryCreate(b, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("amqp" or "amqps")))
            errors.Add($"ImageScoring:RabbitMq:Uri must be an amqp:// or amqps:// URI, or several separated by commas; it is '{broker.Uri}'.");
        var queues = new[] { ("RequestQueue", broker.RequestQueue), ("RetryQueue", broker.RetryQueue), ("ResultQueue", broker.ResultQueue), ("DeadLetterQueue", broker.DeadLetterQueue) };
        foreach (var (name, value) in queues.Append(("DeadLetterExchange", broker.DeadLetterExchange)))
            if (string.IsNullOrWhiteSpace(value)) errors.Add($"ImageScoring:RabbitMq:{name} is not set.");
        if (queues.Select(q => q.Item2).Distinct().Count() != queues.Length)
            errors.Add("ImageScoring:RabbitMq: RequestQueue, RetryQueue, ResultQueue and DeadLetterQueue must be four different queues.");
        if (broker.DeliveryLimit is < 1 or > 1000) errors.Add($"ImageScoring:RabbitMq:DeliveryLimit must be 1 to 1000; it is {broker.DeliveryLimit}.");
        if (broker.MaxQueueLength < 1) errors.Add($"ImageScoring:RabbitMq:MaxQueueLength must be at least 1; it is {broker.MaxQueueLength}.");
        if (broker.Prefetch is < 0 or > ushort.MaxValue) errors.Add($"ImageScoring:RabbitMq:Prefetch must be 0 (twice the batch size) to {ushort.MaxValue}; it is {broker.Prefetch}.");
        if (broker.BatchLinger < TimeSpan.Zero) errors.Add($"ImageScoring:RabbitMq:BatchLinger must not be negative; it is {broker.BatchLinger}.");
        if (broker.ReconnectDelay <= TimeSpan.Zero || broker.MaxReconnectDelay < broker.ReconnectDelay)
            errors.Add($"ImageScoring:RabbitMq: ReconnectDelay must be positive and MaxReconnectDelay at least as long; they are {broker.ReconnectDelay} and {broker.MaxReconnectDelay}.");
        if (broker.DeadLetterCheckInterval <= TimeSpan.Zero) errors.Add($"ImageScoring:RabbitMq:DeadLetterCheckInterval must be positive; it is {broker.DeadLetterCheckInterval}.");
        if (broker.ReferenceRoot is { } root && !Directory.Exists(root)) errors.Add($"ImageScoring:RabbitMq:ReferenceRoot: no folder at '{Path.GetFullPath(root)}'.");
    }

    private static void CheckWritable(string folder, string setting, List<string> errors)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"ImageScoring:{setting} '{folder}' is not writable: {e.Message}");
        }
    }
}
