using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MlNetConv.Hosting;

/// <summary>
/// The producer's side of the RabbitMQ transport: enqueues images (their bytes, or references to files with their
/// SHA-256) with publisher confirms, and reads results. Each enqueue returns once the broker has the request (a full
/// request queue refuses it with <see cref="RabbitMQ.Client.Exceptions.PublishException"/>). Results arrive at least
/// once: keep one per <see cref="ScoringResult.Key"/>.
/// </summary>
/// <example><code>
/// await using var client = await RabbitMqScoringClient.ConnectAsync(new RabbitMqOptions { Uri = "amqp://guest:guest@localhost:5672/" });
/// await client.EnqueueAsync("a.png", File.ReadAllBytes("a.png"), "image/png");
/// await foreach (ScoringResult result in client.ReadResultsAsync(idleTimeout: TimeSpan.FromSeconds(5))) Console.WriteLine(result);
/// </code></example>
public sealed class RabbitMqScoringClient : IAsyncDisposable
{
    // Publishes awaiting their confirms at once when a folder is enqueued.
    private const int PublishWindow = 256;

    private readonly RabbitMqOptions options;
    private readonly IConnection connection;
    private readonly IChannel publisher;

    private RabbitMqScoringClient(RabbitMqOptions options, IConnection connection, IChannel publisher)
    {
        this.options = options;
        this.connection = connection;
        this.publisher = publisher;
    }

    /// <summary>Connects and declares the transport's queues (as the workers do, so either may start first).</summary>
    public static async Task<RabbitMqScoringClient> ConnectAsync(RabbitMqOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        IConnection connection = await ConnectAsync(options, $"mlnetconv-client {Environment.MachineName}-{Environment.ProcessId}", cancellationToken);
        try
        {
            IChannel publisher = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            await RabbitMqTopology.DeclareAsync(publisher, options, cancellationToken);
            return new RabbitMqScoringClient(options, connection, publisher);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Enqueues an image carried in the message; returns when the broker confirmed it.</summary>
    /// <param name="requestId">Unique per image; results carry it back.</param>
    /// <param name="image">The encoded image (PNG, JPEG, BMP, GIF, WebP).</param>
    /// <param name="contentType">Its media type, e.g. "image/png".</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public Task EnqueueAsync(string requestId, ReadOnlyMemory<byte> image, string contentType = "application/octet-stream", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        return PublishAsync(requestId, contentType, image, cancellationToken);
    }

    /// <summary>
    /// Enqueues a reference to an image file (a claim check) instead of its bytes, for large images on storage the workers
    /// share: the path and the file's SHA-256, which the worker checks. The path must lie under the workers' ReferenceRoot.
    /// </summary>
    public async Task EnqueueReferenceAsync(string requestId, string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        string fullPath = Path.GetFullPath(path);
        string sha256;
        await using (var file = File.OpenRead(fullPath)) sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
        await EnqueueReferenceAsync(requestId, new ImageReference(fullPath, sha256), cancellationToken);
    }

    /// <summary>Enqueues a reference whose SHA-256 the producer already knows (computed when the file was stored, say).</summary>
    public Task EnqueueReferenceAsync(string requestId, ImageReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        ArgumentNullException.ThrowIfNull(reference);
        return PublishAsync(requestId, ScoringMessages.ReferenceContentType, reference.ToJson(), cancellationToken);
    }

    /// <summary>
    /// Enqueues every file of <paramref name="folder"/> matching <paramref name="patterns"/> (top level), with its file
    /// name as request id, as bytes or as references; returns how many. <paramref name="progress"/> hears the count so far.
    /// </summary>
    public async Task<int> EnqueueFolderAsync(string folder, IReadOnlyList<string> patterns, bool asReferences = false,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"No folder '{Path.GetFullPath(folder)}' to enqueue.");
        string[] files = [.. patterns.SelectMany(p => Directory.EnumerateFiles(folder, p, SearchOption.TopDirectoryOnly)).Distinct().Order(StringComparer.Ordinal)];
        var pending = new List<Task>(PublishWindow);
        int sent = 0;
        foreach (string file in files)
        {
            string id = Path.GetFileName(file);
            pending.Add(asReferences
                ? EnqueueReferenceAsync(id, file, cancellationToken)
                : EnqueueAsync(id, await File.ReadAllBytesAsync(file, cancellationToken), MediaType(file), cancellationToken));
            if (pending.Count == PublishWindow)
            {
                await Task.WhenAll(pending);
                sent += pending.Count;
                pending.Clear();
                progress?.Report(sent);
            }
        }
        await Task.WhenAll(pending);
        sent += pending.Count;
        progress?.Report(sent);
        return sent;
    }

    /// <summary>
    /// Reads results (and failures) from the result queue as they come, until none has come for <paramref name="idleTimeout"/>.
    /// Each is acknowledged when the loop asks for the next, so one whose handling was interrupted is delivered again.
    /// </summary>
    public async IAsyncEnumerable<ScoringResult> ReadResultsAsync(TimeSpan idleTimeout, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using IChannel channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.BasicQosAsync(0, 256, global: false, cancellationToken);
        var arrived = Channel.CreateUnbounded<(ulong Tag, byte[] Body)>(new UnboundedChannelOptions { SingleReader = true });
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            arrived.Writer.TryWrite((delivery.DeliveryTag, delivery.Body.ToArray()));
            return Task.CompletedTask;
        };
        channel.ChannelShutdownAsync += (_, reason) =>
        {
            arrived.Writer.TryComplete(new IOException($"the result channel closed: {reason.ReplyText} ({reason.ReplyCode})"));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(options.ResultQueue, autoAck: false, consumer, cancellationToken);
        while (true)
        {
            (ulong Tag, byte[] Body)? next = null;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                idle.CancelAfter(idleTimeout);
                try
                {
                    next = await arrived.Reader.ReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
            if (next is not { } message) yield break;
            ScoringResult result;
            try
            {
                result = ScoringResult.Parse(message.Body);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"A message in the result queue '{options.ResultQueue}' is not a scoring result: {e.Message}", e);
            }
            yield return result;
            await channel.BasicAckAsync(message.Tag, multiple: false, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await publisher.DisposeAsync();
        await connection.DisposeAsync();
    }

    /// <summary>
    /// A connection to one of the brokers in <see cref="RabbitMqOptions.Uri"/>, without the client's own recovery: the
    /// worker reconnects, redeclares and resumes itself.
    /// </summary>
    internal static async Task<IConnection> ConnectAsync(RabbitMqOptions options, string name, CancellationToken cancellationToken)
    {
        Uri[] brokers = Brokers(options.Uri);
        var factory = new ConnectionFactory
        {
            Uri = brokers[0],
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
        };
        return await factory.CreateConnectionAsync(brokers.Select(b => new AmqpTcpEndpoint(b)).ToList(), name, cancellationToken);
    }

    /// <summary>The broker URIs of a setting: one, or a cluster's nodes separated by commas.</summary>
    internal static Uri[] Brokers(string setting) =>
        [.. setting.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u))];

    /// <summary>The brokers' addresses without credentials, for log lines.</summary>
    internal static string Describe(string setting)
    {
        try
        {
            return string.Join(", ", Brokers(setting).Select(u => $"{u.Scheme}://{u.Host}:{(u.IsDefaultPort ? 5672 : u.Port)}{u.AbsolutePath}"));
        }
        catch (UriFormatException)
        {
            return "(an invalid URI)";
        }
    }

    private async Task PublishAsync(string requestId, string contentType, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties
        {
            Persistent = true,
            MessageId = requestId,
            Type = ScoringMessages.RequestType,
            ContentType = contentType,
            Headers = new Dictionary<string, object?> { [ScoringMessages.VersionHeader] = ScoringMessages.Version },
        };
        await publisher.BasicPublishAsync("", options.RequestQueue, mandatory: true, properties, body, cancellationToken);
    }

    private static string MediaType(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".bmp" => "image/bmp",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        _ => "application/octet-stream",
    };
}
