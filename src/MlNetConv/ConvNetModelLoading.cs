using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;

namespace MlNetConv;

/// <summary>
/// <c>mlContext.Model.LoadConvNet</c>: ML.NET's <c>Model.Load</c>, with errors that say what is wrong with a damaged
/// model zip.
/// </summary>
/// <remarks>
/// ML.NET's <c>Model.Load</c> creates each transformer by calling its loader through reflection, so whatever a loader
/// throws reaches the caller wrapped in <see cref="TargetInvocationException"/>s ("Exception has been thrown by the
/// target of an invocation"), with the reason only in an inner exception; and a truncated file fails inside the zip
/// library ("End of Central Directory record could not be found"). <c>LoadConvNet</c> loads the same way and gives any
/// model zip (MlNetConv's or not) the same result, but a failure is one <see cref="InvalidDataException"/> whose message
/// names the zip and the problem: not a zip file, a truncated zip, a zip that is not an ML.NET model, a corrupted or
/// truncated network entry, or a model written by a newer MlNetConv. The original exception is its inner exception.
/// </remarks>
public static class ConvNetModelLoading
{
    /// <summary>Loads a model zip and its input schema, as <c>Model.Load</c> does.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a loadable model zip; the message names the path and why.</exception>
    public static ITransformer LoadConvNet(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"'{path}' is a directory, not a model zip." : $"No model zip at '{path}'.", path);
        using var stream = File.OpenRead(path);
        return LoadConvNet(catalog, stream, out inputSchema, $"'{path}'");
    }

    /// <summary>Loads a model zip and its input schema from a readable, seekable stream, as <c>Model.Load</c> does.</summary>
    /// <param name="catalog">The context's model operations (<c>mlContext.Model</c>).</param>
    /// <param name="stream">The zip, read from its current position.</param>
    /// <param name="inputSchema">The model's input schema (null if it was saved without one).</param>
    /// <param name="modelName">How error messages name the zip, e.g. its path in quotes; default "the model zip".</param>
    /// <exception cref="InvalidDataException">The stream is not a loadable model zip; the message says why.</exception>
    public static ITransformer LoadConvNet(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanSeek) throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        string name = modelName is null ? "the model zip" : $"the model zip {modelName}";
        long start = stream.Position;
        if (DiagnoseZip(stream) is { } problem)
            throw new InvalidDataException($"Cannot load {name}: {problem}");
        stream.Position = start;
        try
        {
            return catalog.Load(stream, out inputSchema);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            throw new InvalidDataException($"Cannot load {name}: {Describe(e)}", e);
        }
    }

    // What is wrong with the file as a zip, before ML.NET reads it: null when it opens as a zip with model entries.
    private static string? DiagnoseZip(Stream stream)
    {
        long length = stream.Length - stream.Position;
        if (length == 0) return "the file is empty.";
        Span<byte> signature = stackalloc byte[4];
        int got = stream.ReadAtLeast(signature, 4, throwOnEndOfStream: false);
        bool startsLikeZip = got >= 4 && signature[0] == (byte)'P' && signature[1] == (byte)'K' && signature[2] == 3 && signature[3] == 4;
        stream.Position -= got;
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            if (!zip.Entries.Any(e => e.Name == "Model.key"))
                return $"it is a zip file but not an ML.NET model: it has no Model.key entry (it holds {Describe(zip.Entries)}).";
            return null;
        }
        catch (InvalidDataException e)
        {
            return startsLikeZip
                ? $"the file is truncated or damaged: it starts as a zip file, but its end (the zip's central directory) cannot be read ({e.Message}). " +
                  "Copy or save the model again."
                : $"it is not a zip file ({length:N0} bytes that do not start with a zip signature); an ML.NET model zip is what mlContext.Model.Save writes.";
        }
    }

    private static string Describe(IReadOnlyCollection<ZipArchiveEntry> entries) => entries.Count switch
    {
        0 => "no entries",
        <= 5 => string.Join(", ", entries.Select(e => $"'{e.FullName}'")),
        _ => $"{entries.Count} entries, e.g. " + string.Join(", ", entries.Take(3).Select(e => $"'{e.FullName}'")),
    };

    // The chain of reasons without the reflection wrappers, each message once: e.g. "The model zip's network entry
    // 'Network.bin' cannot be read: The network is corrupted: its checksum does not match its contents."
    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is TargetInvocationException or AggregateException && current.InnerException is not null) continue;
            string message = current.Message.Trim();
            if (message.Length > 0 && !messages.Any(m => m.Contains(message, StringComparison.Ordinal))) messages.Add(message);
        }
        return messages.Count == 0 ? e.GetType().Name : string.Join(" ", messages.Select(m => m.EndsWith('.') ? m : m + "."));
    }
}
