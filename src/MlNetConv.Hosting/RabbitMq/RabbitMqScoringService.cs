using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace MlNetConv.Hosting;

/// <summary>
/// The RabbitMQ transport: competing workers on one quorum request queue. A batch of deliveries is scored, its results
/// published with publisher confirms, and only then acknowledged (one multiple-ack), so a worker that dies or loses its
/// connection loses nothing: its unacknowledged requests are delivered again, maybe to another worker, and their
/// results may be published twice (same key; see <see cref="ScoringMessages"/>). An image that cannot be scored gets a
/// failure result and is acknowledged like the rest. A request that keeps killing workers is dead-lettered by the
/// broker after the delivery limit while the rest go on: a request delivered again after a failed delivery
/// (<c>x-delivery-count</c> above 0) may be what killed its worker, so it moves to the retry queue, which every worker
/// consumes one request at a time; there a poison request takes no other down with it, and the requests in flight with
/// it the first time are exposed once. A lost connection or a restarted broker is retried with exponential backoff.
/// </summary>
internal sealed class RabbitMqScoringService(IOptions<ImageScoringOptions> optionsAccessor, ScoringMetrics metrics, ILogger<RabbitMqScoringService> logger)
    : BackgroundService
{
    private readonly ImageScoringOptions options = optionsAccessor.Value;
    private readonly RabbitMqOptions broker = optionsAccessor.Value.RabbitMq;
    private readonly ScoringCore core = new(optionsAccessor.Value, metrics, logger);
    private readonly string workerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
    private long batches;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        core.LoadModel(); // a bad model zip stops the host before it starts
        core.WarmUp(cancellationToken);
        logger.LogInformation("Scoring requests from {Queue} at {Broker} with model {ModelId} ({ModelPath}) as worker {Worker}",
            broker.RequestQueue, RabbitMqScoringClient.Describe(broker.Uri), core.Model.Id, options.ModelPath, workerId);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        TimeSpan delay = broker.ReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ConsumeAsync(stoppingToken, onConnected: () => delay = broker.ReconnectDelay);
            }
            catch (Exception e) when (e is not (OutOfMemoryException or TopologyConflictException) && !stoppingToken.IsCancellationRequested)
            {
                metrics.RecordReconnect();
                logger.LogWarning("Lost the broker at {Broker} ({Reason}); reconnecting in {Delay} ms", RabbitMqScoringClient.Describe(broker.Uri),
                    e.Message, (int)delay.TotalMilliseconds);
                try { await Task.Delay(delay, stoppingToken); }
                catch (OperationCanceledException) { break; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, broker.MaxReconnectDelay.Ticks));
            }
        }
    }

    // One connection's life: declare, consume, score batches until the host stops (returns) or the connection fails (throws).
    private async Task ConsumeAsync(CancellationToken stoppingToken, Action onConnected)
    {
        await using IConnection connection = await RabbitMqScoringClient.ConnectAsync(broker, $"mlnetconv-worker {workerId}", stoppingToken);
        await using IChannel requests = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        await using IChannel results = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), stoppingToken);
        try
        {
            await RabbitMqTopology.DeclareAsync(requests, broker, stoppingToken);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406)
        {
            // A setting, not a network fault: retrying cannot help, so the worker stops with the broker's words.
            logger.LogCritical("The broker refused the worker's queues: {Reason}", e.ShutdownReason.ReplyText);
            throw new TopologyConflictException(
                $"The broker refused the worker's queues: {e.ShutdownReason.ReplyText}. A queue of that name exists with other arguments: " +
                "use the same ImageScoring:RabbitMq settings everywhere, or delete the queue.", e);
        }
        int prefetch = broker.Prefetch > 0 ? broker.Prefetch : 2 * options.BatchSize;
        await requests.BasicQosAsync(0, (ushort)Math.Min(prefetch, ushort.MaxValue), global: false, stoppingToken);
        await using IChannel retries = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        await retries.BasicQosAsync(0, 1, global: false, stoppingToken); // one at a time: a poison request holds no other

        // Deliveries of both queues, copied out of the client's buffers at once; the prefetches bound how many wait here.
        var deliveries = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
        void Fail(string what, ShutdownEventArgs reason) =>
            deliveries.Writer.TryComplete(new IOException($"the {what} closed: {reason.ReplyText} ({reason.ReplyCode})"));
        connection.ConnectionShutdownAsync += (_, reason) => { Fail("connection", reason); return Task.CompletedTask; };
        foreach (var (channel, queue, isRetry) in new[] { (requests, broker.RequestQueue, false), (retries, broker.RetryQueue, true) })
        {
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                deliveries.Writer.TryWrite(Request.From(delivery, channel, isRetry));
                return Task.CompletedTask;
            };
            channel.ChannelShutdownAsync += (_, reason) => { Fail($"channel of {queue}", reason); return Task.CompletedTask; };
            await channel.BasicConsumeAsync(queue, autoAck: false, consumer, stoppingToken);
        }
        onConnected();
        logger.LogInformation("Connected to {Broker}: consuming {Queue} with prefetch {Prefetch} and {RetryQueue} one at a time",
            RabbitMqScoringClient.Describe(broker.Uri), broker.RequestQueue, prefetch, broker.RetryQueue);

        using var deadLetters = new DeadLetterWatch(connection, broker, metrics, logger);
        while (true)
        {
            Request? first;
            try
            {
                first = await ReadFirstAsync(deliveries.Reader, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return; // unacknowledged prefetched requests go back to the queue when the channel closes
            }
            // The batch in flight finishes even when the host is stopping: its results are published and it is acknowledged.
            if (first is not null)
            {
                List<Request> received = await ReadBatchAsync(first, deliveries.Reader, stoppingToken);
                // A request whose delivery failed before may be what killed its worker: it moves to the retry queue, whose
                // requests are scored alone; fresh requests are scored together.
                foreach (Request suspect in received.Where(r => !r.FromRetryQueue && r.FailedDeliveries > 0))
                    await MoveToRetryQueueAsync(suspect, results);
                List<Request> fresh = [.. received.Where(r => !r.FromRetryQueue && r.FailedDeliveries == 0)];
                if (fresh.Count > 0) await ScoreAndAcknowledgeAsync(fresh, results, requests);
                foreach (Request retry in received.Where(r => r.FromRetryQueue)) await ScoreAndAcknowledgeAsync([retry], results, retries);
            }
            await deadLetters.CheckIfDueAsync();
        }
    }

    // The next request, or null when none came for a dead-letter check interval (so an idle worker still checks).
    private async Task<Request?> ReadFirstAsync(ChannelReader<Request> reader, CancellationToken stoppingToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        idle.CancelAfter(broker.DeadLetterCheckInterval);
        try
        {
            return await reader.ReadAsync(idle.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return null;
        }
    }

    // The first request and whatever else arrives within the batch linger, up to the batch size.
    private async Task<List<Request>> ReadBatchAsync(Request first, ChannelReader<Request> reader, CancellationToken stoppingToken)
    {
        var batch = new List<Request> { first };
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        linger.CancelAfter(broker.BatchLinger);
        while (batch.Count < options.BatchSize)
        {
            if (reader.TryRead(out Request? next)) batch.Add(next);
            else
            {
                try
                {
                    if (!await reader.WaitToReadAsync(linger.Token)) break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        return batch;
    }

    // Republished (confirmed) to the retry queue with its failed deliveries so far, then acknowledged here.
    private async Task MoveToRetryQueueAsync(Request request, IChannel results)
    {
        logger.LogWarning("{Request} comes again after {Failures} failed deliveries: moved to {RetryQueue}, where it is scored alone",
            request.Id, request.FailedDeliveries, broker.RetryQueue);
        var properties = new BasicProperties(request.Properties)
        {
            Headers = new Dictionary<string, object?>(request.Properties.Headers ?? new Dictionary<string, object?>())
            {
                [PriorFailuresHeader] = request.FailedDeliveries,
            },
        };
        properties.Headers.Remove("x-delivery-count");
        await results.BasicPublishAsync("", broker.RetryQueue, mandatory: true, properties, request.Body);
        await request.Source.BasicAckAsync(request.DeliveryTag, multiple: false);
    }

    // Every request of the batch comes from the one channel given: it is acknowledged there with one multiple-ack.
    private async Task ScoreAndAcknowledgeAsync(List<Request> batch, IChannel results, IChannel source)
    {
        core.ReloadModelIfReplaced();
        string batchId = $"{workerId}-{++batches}";
        var images = new List<ImageToScore>();
        var unreadable = new List<ScoringOutcome>();
        foreach (Request request in batch)
        {
            (byte[]? bytes, string? reason) = Resolve(request);
            if (bytes is not null) images.Add(new ImageToScore(request.Id, bytes));
            else unreadable.Add(new ScoringOutcome(request.Id, null, reason, core.Model.Id, DateTimeOffset.UtcNow));
        }
        ScoringOutcome[] scored = core.Score(batchId, images);
        foreach (ScoringOutcome failure in unreadable) logger.LogWarning("{Request} failed: {Reason}", failure.Id, failure.FailureReason);

        // Every result confirmed by the broker, then the whole batch acknowledged at once.
        await Task.WhenAll(scored.Concat(unreadable).Select(outcome => PublishAsync(results, ScoringResult.From(outcome)).AsTask()));
        // One multiple-ack: the channel's requests are read in delivery order, and every earlier one was already
        // acknowledged (scored, or moved to the retry queue before this batch was scored).
        await source.BasicAckAsync(batch.Max(r => r.DeliveryTag), multiple: true);
    }

    private ValueTask PublishAsync(IChannel results, ScoringResult result)
    {
        var properties = new BasicProperties
        {
            Persistent = true,
            MessageId = result.Key,
            CorrelationId = result.RequestId,
            Type = result.Succeeded ? ScoringMessages.ResultType : ScoringMessages.FailureType,
            ContentType = "application/json",
            Timestamp = new AmqpTimestamp(result.Time.ToUnixTimeSeconds()),
        };
        return results.BasicPublishAsync("", broker.ResultQueue, mandatory: true, properties, result.ToJson());
    }

    // The image's bytes: the body, or the referenced file (inside ReferenceRoot, with the SHA-256 the request states).
    private (byte[]? Bytes, string? Reason) Resolve(Request request)
    {
        if (request.MissingId) return (null, "the request has no message_id");
        if (request.ContentType != ScoringMessages.ReferenceContentType) return (request.Body, null);
        ImageReference? reference;
        try
        {
            reference = ImageReference.Parse(request.Body);
        }
        catch (System.Text.Json.JsonException e)
        {
            return (null, $"the image reference is not valid JSON: {e.Message}");
        }
        if (reference is not { Path.Length: > 0, Sha256.Length: 64 }) return (null, "the image reference needs a path and a 64-digit sha256");
        if (broker.ReferenceRoot is null) return (null, "image references are not accepted here (ImageScoring:RabbitMq:ReferenceRoot is not set)");
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(broker.ReferenceRoot)) + Path.DirectorySeparatorChar;
        string path = Path.GetFullPath(reference.Path);
        if (!path.StartsWith(root, StringComparison.Ordinal)) return (null, $"the referenced file '{reference.Path}' is outside ImageScoring:RabbitMq:ReferenceRoot");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"the referenced file could not be read: {e.Message}");
        }
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        return actual == reference.Sha256.ToLowerInvariant()
            ? (bytes, null)
            : (null, $"the referenced file's SHA-256 is {actual}, not the {reference.Sha256} the request states: it changed or is not the file meant");
    }

    // The failed deliveries a request had in the request queue, carried to the retry queue.
    private const string PriorFailuresHeader = "mlnetconv-failed-deliveries";

    /// <summary>One delivery, copied out of the client's buffers: where it came from, and how many of its deliveries failed before.</summary>
    private sealed record Request(IChannel Source, bool FromRetryQueue, ulong DeliveryTag, string Id, bool MissingId, IReadOnlyBasicProperties Properties,
        byte[] Body, long FailedDeliveries)
    {
        public string? ContentType => Properties.ContentType;

        public static Request From(BasicDeliverEventArgs delivery, IChannel source, bool fromRetryQueue)
        {
            IReadOnlyBasicProperties properties = delivery.BasicProperties;
            string? id = properties.MessageId;
            // Quorum queues count failed deliveries in x-delivery-count; elsewhere only the redelivered flag tells.
            long failed = Header(properties, "x-delivery-count") ?? (delivery.Redelivered ? 1 : 0);
            return new Request(source, fromRetryQueue, delivery.DeliveryTag,
                string.IsNullOrEmpty(id) ? $"(delivery {delivery.DeliveryTag} without a message_id)" : id, string.IsNullOrEmpty(id),
                new BasicProperties(properties), delivery.Body.ToArray(), failed + (Header(properties, PriorFailuresHeader) ?? 0));
        }

        private static long? Header(IReadOnlyBasicProperties properties, string name) =>
            properties.Headers?.TryGetValue(name, out object? value) == true && value is long or int ? Convert.ToInt64(value) : null;
    }

    /// <summary>Checks the dead-letter queue's length now and then on a channel of its own; logs and measures growth.</summary>
    private sealed class DeadLetterWatch(IConnection connection, RabbitMqOptions broker, ScoringMetrics metrics, ILogger logger) : IDisposable
    {
        private IChannel? channel;
        private DateTime due = DateTime.UtcNow;
        private long? last;

        public async Task CheckIfDueAsync()
        {
            if (DateTime.UtcNow < due) return;
            due = DateTime.UtcNow + broker.DeadLetterCheckInterval;
            channel ??= await connection.CreateChannelAsync();
            long count = await channel.MessageCountAsync(broker.DeadLetterQueue);
            metrics.RecordDeadLetterQueueLength(count);
            if (count > (last ?? 0))
                logger.LogWarning("{Count} requests are in the dead-letter queue {Queue} ({New} new): each was delivered {Limit} times without being acknowledged",
                    count, broker.DeadLetterQueue, count - (last ?? 0), broker.DeliveryLimit);
            last = count;
        }

        public void Dispose() => channel?.Dispose();
    }

    /// <summary>The broker refused to declare the queues as configured (PRECONDITION_FAILED): a settings conflict.</summary>
    private sealed class TopologyConflictException(string message, Exception inner) : Exception(message, inner);
}
