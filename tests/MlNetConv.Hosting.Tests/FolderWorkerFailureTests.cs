namespace MlNetConv.Hosting.Tests;

/// <summary>
/// What an operator found testing the folder worker, each fixed: truncated images, the decoder's real reasons, reasons
/// written before the file moves to failed/, a killed worker's temporary files, and recovery while idle in the log.
/// </summary>
[Collection(nameof(Models))]
public class FolderWorkerFailureTests(Models models)
{
    [Fact]
    public async Task ATruncatedImageFailsWithTheReasonInsteadOfBeingScored()
    {
        using var work = new Workspace(models.ModelA);
        byte[] png = File.ReadAllBytes(models.Pool[0]);
        string[] good = models.Pool[1..21];
        await Workspace.RunHostUntil(work.Settings(batchSize: 8), () => work.Done == good.Length && work.Failed == 1, "20 scored and 1 failed", () =>
        {
            work.DropBytes("half.png", png[..(png.Length / 2)]);
            work.Drop(good);
        });
        Assert.Equal("truncated: the Png data ends before the image does (Skia: IncompleteInput)",
            File.ReadAllText(Path.Combine(work.Outbox, "failed", "half.png.reason.txt")).Trim());
        Assert.DoesNotContain(work.Results(), r => r.File == "half.png");
        work.AssertEachScoredOnce(good);
    }

    [Fact]
    public async Task UndecodableFilesGetTheDecodersReason()
    {
        using var work = new Workspace(models.ModelA);
        byte[] png = File.ReadAllBytes(models.Pool[0]);
        byte[] corrupt = [.. png];
        for (int i = 60; i < corrupt.Length - 12; i++) corrupt[i] ^= 0x5A; // the compressed data scrambled, header and end intact
        await Workspace.RunHostUntil(work.Settings(), () => work.Failed == 3, "3 failed", () =>
        {
            work.DropBytes("notes.png", "not an image"u8.ToArray());
            work.DropBytes("scrambled.png", corrupt);
            work.DropBytes("huge.png", PngClaiming(png, 70_000, 70_000));
        });
        string Reason(string name) => File.ReadAllText(Path.Combine(work.Outbox, "failed", name + ".reason.txt")).Trim();
        Assert.StartsWith("not an image the decoder knows (no PNG, JPEG, BMP, GIF, WebP or ICO header; Skia: ", Reason("notes.png"));
        Assert.Matches("^(corrupt Png data|truncated: the Png data ends before the image does) \\(Skia: ", Reason("scrambled.png"));
        Assert.Equal("too large: 70000×70000 pixels; the limit is 50,000,000 (ImageScoring:MaxImagePixels)", Reason("huge.png"));
        Assert.All(new[] { "notes.png", "scrambled.png", "huge.png" }, n => Assert.DoesNotContain("Invalid path", Reason(n)));
    }

    [Fact]
    public async Task TheReasonIsWrittenWholeBeforeTheFileMovesToFailed()
    {
        using var work = new Workspace(models.ModelA);
        // The reason cannot be written (a folder stands where it goes), as if the worker died at that moment: the file
        // must not reach failed/ without its reason; it stays claimed and goes back to the inbox when the worker stops.
        Directory.CreateDirectory(Path.Combine(work.Outbox, "failed", "bad.png.reason.txt"));
        var log = new LogCollector();
        using (var host = Workspace.CreateHost(work.Settings(), log))
        {
            await host.StartAsync();
            work.DropBytes("bad.png", [1, 2, 3]);
            Workspace.WaitUntil(() => log.Messages.Any(m => m.StartsWith("Error: A file operation failed", StringComparison.Ordinal)), "the failed reason write");
            await host.StopAsync();
        }
        Assert.False(File.Exists(Path.Combine(work.Outbox, "failed", "bad.png")), "bad.png reached failed/ without its reason");
        Assert.True(File.Exists(Path.Combine(work.Inbox, "bad.png")), "bad.png was not put back in the inbox");
        Assert.DoesNotContain(work.HiddenFiles(), f => !f.EndsWith("reason.txt", StringComparison.Ordinal));

        // With the way clear, it fails properly: file and complete reason together.
        Directory.Delete(Path.Combine(work.Outbox, "failed", "bad.png.reason.txt"));
        await Workspace.RunHostUntil(work.Settings(), () => work.Failed == 1 && File.Exists(Path.Combine(work.Outbox, "failed", "bad.png")), "bad.png to fail");
        Assert.StartsWith("not an image the decoder knows", File.ReadAllText(Path.Combine(work.Outbox, "failed", "bad.png.reason.txt")));
        Assert.Empty(work.HiddenFiles());
    }

    [Fact]
    public async Task RecoveryOfAKilledWorkerRemovesItsTemporaryFilesAndScoresItsBatch()
    {
        using var work = new Workspace(models.ModelA);
        string[] batch = models.Pool[..10];
        work.LeaveDeadWorker(batch);
        Assert.Equal(2, work.HiddenFiles().Length);
        await Workspace.RunHostUntil(work.Settings(), () => work.Done == batch.Length, "the dead worker's batch to be scored");
        Assert.Empty(work.HiddenFiles());
        work.AssertEachScoredOnce(batch);
        Assert.False(Directory.Exists(Path.Combine(work.Inbox, ".claims")) && Directory.GetDirectories(Path.Combine(work.Inbox, ".claims")).Length > 0);
    }

    [Fact]
    public async Task AnIdleWorkerLogsTheRecoveryItDoes()
    {
        using var work = new Workspace(models.ModelA);
        var log = new LogCollector();
        using var host = Workspace.CreateHost(work.Settings(), log);
        await host.StartAsync();
        string[] batch = models.Pool[..5];
        work.LeaveDeadWorker(batch);
        Workspace.WaitUntil(() => work.Done == batch.Length, "the idle worker to recover and score the batch");
        await host.StopAsync();
        Assert.Contains("Information: Recovered 5 files from stopped workers while idle", log.Messages);
        work.AssertEachScoredOnce(batch);
    }

    // A real PNG whose header (IHDR, its CRC recomputed) claims another size: what a forged or decompression-bomb
    // file looks like to the decoder before it allocates the pixels.
    private static byte[] PngClaiming(byte[] png, int width, int height)
    {
        byte[] forged = [.. png];
        // Signature (8 bytes), IHDR length (4), then "IHDR" and its 13 data bytes at 12..29, its CRC at 29..33.
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(forged.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(forged.AsSpan(20), height);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(29), Crc32(forged.AsSpan(12, 17)));
        return forged;
    }

    // PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) over a chunk's type and data.
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
