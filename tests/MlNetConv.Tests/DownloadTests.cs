using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using MlNetConv.Data;

namespace MlNetConv.Tests;

/// <summary>The downloader against a real HTTP server on 127.0.0.1 that serves the shipped IDX files, well or badly.</summary>
public sealed class DownloadTests : IDisposable
{
    private readonly string cache = Directory.CreateTempSubdirectory("mlnetconv-cache").FullName;

    public void Dispose() => Directory.Delete(cache, recursive: true);

    private static Dictionary<string, string> ShippedChecksums() =>
        Directory.GetFiles(TestData.SubsetDirectory, "*.gz").ToDictionary(f => Path.GetFileName(f),
            f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public async Task DownloadsVerifiesAndKeepsTheCache()
    {
        using var server = new FileServer(FileServer.Behaviour.Good);
        var checksums = ShippedChecksums();
        string dir = await FashionMnistDownload.DownloadAsync(cache, [server.Address], checksums);
        foreach (var (file, _) in checksums)
            Assert.Equal(File.ReadAllBytes(Path.Combine(TestData.SubsetDirectory, file)), File.ReadAllBytes(Path.Combine(dir, file)));
        Assert.Equal(4, server.Requests);
        Assert.Empty(Directory.GetFiles(cache, "*.partial"));

        // Valid cached files are not fetched again, even with no server at all.
        await FashionMnistDownload.DownloadAsync(cache, [new Uri("http://127.0.0.1:9/")], checksums);
        var (train, test) = Data.FashionMnistData.Load(dir);
        Assert.Equal(10_000, train.GetRowCount());
        Assert.Equal(2_000, test.GetRowCount());
    }

    [Fact]
    public async Task AWrongChecksumLeavesNothingBehind()
    {
        using var server = new FileServer(FileServer.Behaviour.Good);
        var checksums = ShippedChecksums();
        string file = checksums.Keys.First();
        checksums[file] = new string('0', 64);
        var error = await Assert.ThrowsAsync<IOException>(() => FashionMnistDownload.DownloadAsync(cache, [server.Address], checksums));
        Assert.Contains(file, error.Message);
        Assert.Contains("does not match the expected", error.Message);
        Assert.False(File.Exists(Path.Combine(cache, file)));
        Assert.Empty(Directory.GetFiles(cache, "*.partial"));
    }

    [Fact]
    public async Task ABrokenConnectionFailsOverToTheNextMirror()
    {
        using var broken = new FileServer(FileServer.Behaviour.BreakHalfway);
        var checksums = ShippedChecksums();
        var error = await Assert.ThrowsAsync<IOException>(() => FashionMnistDownload.DownloadAsync(cache, [broken.Address], checksums));
        Assert.Contains(broken.Address.ToString(), error.Message);
        Assert.Empty(Directory.GetFiles(cache));

        using var good = new FileServer(FileServer.Behaviour.Good);
        await FashionMnistDownload.DownloadAsync(cache, [broken.Address, good.Address], checksums);
        Assert.Equal(4, Directory.GetFiles(cache, "*.gz").Length);
    }

    [Fact]
    public async Task AMissingFileOnEveryMirrorIsNamed()
    {
        using var server = new FileServer(FileServer.Behaviour.NotFound);
        var error = await Assert.ThrowsAsync<IOException>(() => FashionMnistDownload.DownloadAsync(cache, [server.Address], ShippedChecksums()));
        Assert.Contains("HTTP 404", error.Message);
    }

    /// <summary>A loopback HTTP server for the shipped IDX files.</summary>
    private sealed class FileServer : IDisposable
    {
        public enum Behaviour { Good, BreakHalfway, NotFound }

        private readonly TcpListener listener;
        private readonly Behaviour behaviour;
        private readonly CancellationTokenSource stop = new();
        private int requests;

        public FileServer(Behaviour behaviour)
        {
            this.behaviour = behaviour;
            listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            Address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/data/");
            _ = Task.Run(ServeAsync);
        }

        public Uri Address { get; }

        public int Requests => Volatile.Read(ref requests);

        // A minimal HTTP/1.1 responder (one request per connection), so a response can be cut off mid-body for real.
        private async Task ServeAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                catch (ObjectDisposedException) { return; }
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        using var reader = new StreamReader(stream, leaveOpen: true);
                        string? requestLine = await reader.ReadLineAsync();
                        while (!string.IsNullOrEmpty(await reader.ReadLineAsync())) { }
                        Interlocked.Increment(ref requests);
                        string name = Path.GetFileName(requestLine?.Split(' ')[1] ?? "");
                        string path = Path.Combine(TestData.SubsetDirectory, name);
                        if (behaviour == Behaviour.NotFound || !File.Exists(path))
                        {
                            await stream.WriteAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                            return;
                        }
                        byte[] body = await File.ReadAllBytesAsync(path);
                        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
                            $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                        int length = behaviour == Behaviour.BreakHalfway ? body.Length / 2 : body.Length;
                        await stream.WriteAsync(body.AsMemory(0, length));
                        if (behaviour == Behaviour.BreakHalfway) client.Client.LingerState = new LingerOption(true, 0); // reset, not a clean close
                    }
                });
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
        }
    }
}
