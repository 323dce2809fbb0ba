using Microsoft.Extensions.Options;

namespace MlNetConv.Hosting;

/// <summary>
/// Checks the options at start-up (ValidateOnStart): every number in range, the model zip present, the inbox readable,
/// and the outbox, done and failed folders writable (they are created, and a probe file is written and removed).
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
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
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
