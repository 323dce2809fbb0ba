using System.Security.Cryptography;
using MlNetConv.Core.Data;

namespace MlNetConv.Data;

/// <summary>What a download reports after every chunk: the file, bytes so far and the expected total (when the server said).</summary>
public readonly record struct DownloadProgress(string File, long Bytes, long? TotalBytes);

/// <summary>
/// Fetches the four Fashion-MNIST files into a cache directory, verifying each against its published checksum. A file
/// is streamed to "name.partial" and renamed only once its checksum matches, so the cache never holds a half or wrong
/// file; mirrors are tried in order, and the error lists why each failed. Files already cached and valid are kept.
/// </summary>
public static class FashionMnistDownload
{
    /// <summary>The dataset's official locations: Zalando's own bucket and the copy Keras downloads from.</summary>
    public static IReadOnlyList<Uri> OfficialMirrors { get; } =
    [
        new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        new("https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
    ];

    /// <summary>The MD5 of each file as Zalando's README publishes it.</summary>
    public static IReadOnlyDictionary<string, string> OfficialChecksums { get; } = new Dictionary<string, string>
    {
        [FashionMnist.TrainFiles.Images] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        [FashionMnist.TrainFiles.Labels] = "25c81989df183df01b3e8a0aad5dffbe",
        [FashionMnist.TestFiles.Images] = "bef4ecab320f06d8554ea6380940ec79",
        [FashionMnist.TestFiles.Labels] = "bb300cfdad3c16e7a12a480ee83cd310",
    };

    /// <summary>
    /// Makes sure <paramref name="cacheDirectory"/> holds the four files with the given checksums (MD5 or SHA-256, as hex)
    /// and returns the directory. <paramref name="mirrors"/> and <paramref name="checksums"/> default to the official ones.
    /// </summary>
    public static async Task<string> DownloadAsync(string cacheDirectory, IReadOnlyList<Uri>? mirrors = null,
        IReadOnlyDictionary<string, string>? checksums = null, HttpClient? client = null, IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        mirrors ??= OfficialMirrors;
        checksums ??= OfficialChecksums;
        if (mirrors.Count == 0) throw new ArgumentException("At least one mirror is needed.", nameof(mirrors));
        Directory.CreateDirectory(cacheDirectory);
        using var ownClient = client is null ? new HttpClient { Timeout = TimeSpan.FromMinutes(5) } : null;
        HttpClient http = client ?? ownClient!;

        foreach (var (file, checksum) in checksums)
        {
            string target = Path.Combine(cacheDirectory, file);
            if (File.Exists(target) && await ChecksumOfAsync(target, checksum, cancellationToken) == checksum.ToLowerInvariant()) continue;
            var failures = new List<string>();
            foreach (Uri mirror in mirrors)
            {
                string? failure = await TryDownloadAsync(http, new Uri(mirror, file), target, checksum, progress, cancellationToken);
                if (failure is null) break;
                failures.Add($"{new Uri(mirror, file)}: {failure}");
            }
            if (failures.Count == mirrors.Count)
                throw new IOException($"Could not download {file}:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", failures));
        }
        return cacheDirectory;
    }

    private static async Task<string?> TryDownloadAsync(HttpClient http, Uri source, string target, string checksum,
        IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        string partial = target + ".partial";
        try
        {
            using var response = await http.GetAsync(source, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode) return $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            long? total = response.Content.Headers.ContentLength;
            using var hash = CreateHash(checksum);
            long bytes = 0;
            await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
            await using (var file = File.Create(partial))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    hash.AppendData(buffer, 0, read);
                    bytes += read;
                    progress?.Report(new DownloadProgress(Path.GetFileName(target), bytes, total));
                }
            }
            if (total is long expected && bytes != expected) return $"the connection ended after {bytes} of {expected} bytes";
            string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != checksum.ToLowerInvariant()) return $"checksum {actual} does not match the expected {checksum.ToLowerInvariant()}";
            File.Move(partial, target, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return e.Message;
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    private static IncrementalHash CreateHash(string checksum) => checksum.Length switch
    {
        32 => IncrementalHash.CreateHash(HashAlgorithmName.MD5),
        64 => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        _ => throw new ArgumentException($"'{checksum}' is neither an MD5 (32 hex digits) nor a SHA-256 (64) checksum."),
    };

    private static async Task<string> ChecksumOfAsync(string path, string checksum, CancellationToken cancellationToken)
    {
        using var hash = CreateHash(checksum);
        await using var file = File.OpenRead(path);
        var buffer = new byte[81920];
        int read;
        while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0) hash.AppendData(buffer, 0, read);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
