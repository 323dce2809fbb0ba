namespace MlNetConv.Hosting;

/// <summary>
/// The RabbitMQ transport's settings (configuration section "ImageScoring:RabbitMq"). The worker declares what it
/// needs, idempotently: a durable quorum queue of requests (explicit delivery limit, dead-lettering at least once to a
/// dead-letter queue, publishes refused when it is full), a retry queue of the same kind for requests whose delivery
/// failed, their dead-letter exchange and queue, and the results queue.
/// </summary>
public sealed class RabbitMqOptions
{
    /// <summary>
    /// The broker, <c>amqp://user:password@host:port/vhost</c>, or the nodes of a cluster separated by commas (the
    /// credentials and virtual host of the first apply to all): each connection goes to one that answers, in random
    /// order, so workers spread over the nodes and move to another when theirs goes down.
    /// </summary>
    public string Uri { get; set; } = "amqp://guest:guest@localhost:5672/";

    /// <summary>The quorum queue requests are published to (through the default exchange).</summary>
    public string RequestQueue { get; set; } = "mlnetconv.requests";

    /// <summary>
    /// Where a worker moves a request whose delivery failed before (its worker died or lost the connection): workers take
    /// these one at a time, so a request that kills its worker takes no other request down with it.
    /// </summary>
    public string RetryQueue { get; set; } = "mlnetconv.requests.retry";

    /// <summary>The quorum queue results and failures are published to, with publisher confirms.</summary>
    public string ResultQueue { get; set; } = "mlnetconv.results";

    /// <summary>Where requests go after <see cref="DeliveryLimit"/> failed deliveries (a message that keeps killing workers).</summary>
    public string DeadLetterQueue { get; set; } = "mlnetconv.requests.dead-letter";

    /// <summary>The exchange the request queue dead-letters through; bound to <see cref="DeadLetterQueue"/>.</summary>
    public string DeadLetterExchange { get; set; } = "mlnetconv.dead-letter";

    /// <summary>
    /// Deliveries of one request from the retry queue that may end without an ack (its worker died or lost its
    /// connection) before the broker dead-letters it (<c>x-delivery-limit</c>, on both request queues).
    /// </summary>
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>The most requests the request queue holds; publishes beyond it are refused (<c>x-overflow: reject-publish</c>).</summary>
    public long MaxQueueLength { get; set; } = 1_000_000;

    /// <summary>Unacknowledged requests a worker may hold: its batch and the next one (0: twice ImageScoring:BatchSize).</summary>
    public int Prefetch { get; set; }

    /// <summary>How long a batch waits for more requests once it has one.</summary>
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The first wait before reconnecting after the connection is lost; it doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between reconnection attempts.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The folder that image references (claim checks) may point into; a reference outside it fails. Null: references
    /// are refused, only images carried in the message are scored.
    /// </summary>
    public string? ReferenceRoot { get; set; }

    /// <summary>How often the dead-letter queue's length is checked, logged when it grows, and measured.</summary>
    public TimeSpan DeadLetterCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}
