namespace MlNetConv.Hosting;

/// <summary>
/// Exactly-once bookkeeping on the file system, shared safely by any number of worker processes.
/// <list type="bullet">
/// <item>A worker owns Inbox/.claims/&lt;worker&gt;/ while it holds an exclusive lock on its "owner.lock" (the OS drops
/// the lock when the process dies, however it dies).</item>
/// <item>Claiming is an atomic rename of an inbox file into the worker's batch folder; a file another worker renamed
/// first is simply gone, so no file is claimed twice.</item>
/// <item>A batch is committed by the atomic rename of its result file "results-&lt;batch&gt;" into the outbox; only then do
/// its inputs move to done/.</item>
/// <item>Recovery of a dead worker's batch: committed means finish moving its inputs to done/; not committed means move
/// them back to the inbox to be scored again. The hidden temporary files a dead worker was writing (a result file, a
/// failure's reason) are removed.</item>
/// <item>A failed file's reason is written whole (a temporary file, then a rename) before the file moves to failed/, so
/// failed/ never holds an empty reason.</item>
/// </list>
/// </summary>
internal sealed class ClaimStore : IDisposable
{
    private const string LockName = "owner.lock";
    private readonly ImageScoringOptions options;
    private readonly FileStream ownerLock;
    // Inbox files seen by the last scan, oldest first, not yet tried: a scan lists and dates the whole inbox, so it is
    // made once per backlog, not once per batch (with 20,000 waiting files a scan per batch cost more than the scoring).
    private readonly Queue<string> backlog = new();

    public ClaimStore(ImageScoringOptions options)
    {
        this.options = options;
        WorkerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        WorkerFolder = Path.Combine(options.Claims, WorkerId);
        Directory.CreateDirectory(WorkerFolder);
        ownerLock = new FileStream(Path.Combine(WorkerFolder, LockName), FileMode.Create, FileAccess.ReadWrite, FileShare.None);
    }

    public string WorkerId { get; }

    /// <summary>The folders and settings this store works on.</summary>
    public ImageScoringOptions Options => options;

    public string WorkerFolder { get; }

    /// <summary>
    /// Moves up to <paramref name="limit"/> inbox files matching the patterns into a new batch folder, oldest first as of
    /// the last scan of the inbox (a new scan when the files it found are used up); returns their claimed paths.
    /// </summary>
    public (string BatchId, List<(string Original, string Claimed)> Files) Claim(int limit)
    {
        string batchId = $"{DateTime.UtcNow:yyyyMMddTHHmmssfff}-{WorkerId}-{Guid.NewGuid().ToString("N")[..6]}";
        string folder = Path.Combine(WorkerFolder, batchId);
        var files = new List<(string, string)>();
        bool scanned = false;
        while (files.Count < limit)
        {
            if (backlog.Count == 0)
            {
                if (scanned) break; // at most one scan per batch: what it found is all there is
                foreach (string candidate in Candidates()) backlog.Enqueue(candidate);
                scanned = true;
                if (backlog.Count == 0) break;
            }
            string path = backlog.Dequeue();
            if (files.Count == 0) Directory.CreateDirectory(folder);
            string claimed = Path.Combine(folder, Path.GetFileName(path));
            try
            {
                File.Move(path, claimed);
                files.Add((path, claimed));
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                // Another worker claimed it first, or it is still being written and locked: not ours this time.
            }
        }
        if (files.Count == 0 && Directory.Exists(folder)) Directory.Delete(folder);
        return (batchId, files);
    }

    /// <summary>Inbox files matching the patterns, oldest first (the claims folder is not searched).</summary>
    public IEnumerable<string> Candidates() =>
        options.FilePatterns.SelectMany(p => Directory.EnumerateFiles(options.Inbox, p, SearchOption.TopDirectoryOnly))
            .Distinct()
            .OrderBy(File.GetLastWriteTimeUtc)
            .ThenBy(p => p, StringComparer.Ordinal);

    public static string ResultName(string batchId, ResultFormat format) =>
        $"results-{batchId}{(format == ResultFormat.Csv ? ".csv" : ".jsonl")}";

    /// <summary>After the batch is committed: inputs to done/, then the batch folder goes.</summary>
    public void Complete(string batchFolder) => MoveAll(batchFolder, options.Done);

    /// <summary>
    /// Moves one claimed file to failed/ with a ".reason.txt" beside it, the reason first. A kill before the file moves
    /// leaves it claimed (recovery puts it back in the inbox) and at most a complete reason, which its next failure
    /// replaces.
    /// </summary>
    public void Fail(string claimed, string reason)
    {
        string target = UniqueTarget(options.Failed, Path.GetFileName(claimed));
        string reasonFile = target + ".reason.txt";
        string temporary = Path.Combine(options.Failed, $".{Path.GetFileName(reasonFile)}.{WorkerId}.tmp");
        using (var writer = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            writer.Write(System.Text.Encoding.UTF8.GetBytes(reason + Environment.NewLine));
            writer.Flush(flushToDisk: true);
        }
        try
        {
            File.Move(temporary, reasonFile, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        File.Move(claimed, target);
    }

    /// <summary>Puts a batch's unscored files back in the inbox (shutdown before scoring, or recovery).</summary>
    public void Release(string batchFolder) => MoveAll(batchFolder, options.Inbox);

    /// <summary>Finishes or releases the batches of every worker whose owner lock is free (its process is gone), and of this worker from a previous run.</summary>
    public int RecoverAbandoned()
    {
        int recovered = 0;
        if (!Directory.Exists(options.Claims)) return 0;
        foreach (string worker in Directory.EnumerateDirectories(options.Claims))
        {
            if (worker == WorkerFolder) continue;
            FileStream? takeover;
            try
            {
                takeover = new FileStream(Path.Combine(worker, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // alive: its owner holds the lock
            }
            using (takeover)
            {
                foreach (string batch in Directory.EnumerateDirectories(worker))
                {
                    recovered += Directory.EnumerateFiles(batch).Count();
                    Settle(batch);
                }
                RemoveTemporaries(Path.GetFileName(worker));
            }
            TryDelete(worker);
        }
        return recovered;
    }

    // A dead worker's half-written result files (their names hold its batch ids, so its id) and failure reasons.
    private void RemoveTemporaries(string workerId)
    {
        foreach (string folder in new[] { options.Outbox, options.Failed }.Where(Directory.Exists))
            foreach (string temporary in Directory.EnumerateFiles(folder, $".*{workerId}*.tmp"))
                File.Delete(temporary);
    }

    // A committed batch's inputs go to done/; an uncommitted batch's back to the inbox.
    private void Settle(string batchFolder)
    {
        string batchId = Path.GetFileName(batchFolder);
        bool committed = Enum.GetValues<ResultFormat>().Any(f => File.Exists(Path.Combine(options.Outbox, ResultName(batchId, f))));
        if (committed) Complete(batchFolder);
        else Release(batchFolder);
    }

    private static void MoveAll(string batchFolder, string destination)
    {
        if (!Directory.Exists(batchFolder)) return;
        foreach (string file in Directory.EnumerateFiles(batchFolder)) MoveKeepingBoth(file, destination);
        Directory.Delete(batchFolder);
    }

    // Never overwrite: a second "a.png" becomes "a (2).png". The move is tried first, as the name is rarely taken:
    // looking it up beforehand was a second lookup in a folder of thousands (2 % of the folder worker's CPU in perf).
    private static void MoveKeepingBoth(string file, string folder)
    {
        string name = Path.GetFileName(file);
        string target = Path.Combine(folder, name);
        for (int n = 2; ; n++)
        {
            try
            {
                File.Move(file, target);
                return;
            }
            catch (IOException) when (File.Exists(target) && File.Exists(file))
            {
                target = Numbered(folder, name, n);
            }
        }
    }

    // The first of "a.png", "a (2).png", ... not taken in the folder.
    private static string UniqueTarget(string folder, string name)
    {
        string target = Path.Combine(folder, name);
        for (int n = 2; File.Exists(target); n++) target = Numbered(folder, name, n);
        return target;
    }

    private static string Numbered(string folder, string name, int n) =>
        Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(name)} ({n}){Path.GetExtension(name)}");

    private static void TryDelete(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
    }

    public void Dispose()
    {
        // Leave nothing claimed behind, while still holding the lock so no recovering worker races us.
        foreach (string batch in Directory.EnumerateDirectories(WorkerFolder)) Settle(batch);
        ownerLock.Dispose();
        TryDelete(WorkerFolder);
    }
}
