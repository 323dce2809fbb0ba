using RabbitMQ.Client;

namespace MlNetConv.Hosting;

/// <summary>
/// Declares the RabbitMQ objects the transport uses, the same way from workers and producers, so either may come first.
/// Declaring is idempotent; an existing queue with other arguments is refused by the broker (PRECONDITION_FAILED,
/// naming the argument), which stops the worker's start with that message.
/// </summary>
internal static class RabbitMqTopology
{
    public static async Task DeclareAsync(IChannel channel, RabbitMqOptions options, CancellationToken cancellationToken)
    {
        await channel.ExchangeDeclareAsync(options.DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(options.DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, Quorum(), cancellationToken: cancellationToken);
        await channel.QueueBindAsync(options.DeadLetterQueue, options.DeadLetterExchange, options.RequestQueue, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(options.RequestQueue, durable: true, exclusive: false, autoDelete: false, RequestQueueArguments(options), cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(options.RetryQueue, durable: true, exclusive: false, autoDelete: false, RequestQueueArguments(options), cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(options.ResultQueue, durable: true, exclusive: false, autoDelete: false, Quorum(), cancellationToken: cancellationToken);
    }

    /// <summary>
    /// A replicated quorum queue with every argument explicit (brokers' defaults differ between versions): the delivery
    /// limit, dead-lettering at least once (which needs reject-publish overflow) to the dead-letter exchange with the
    /// request queue's name as routing key (the retry queue's too: one dead-letter queue), and the length limit.
    /// </summary>
    public static Dictionary<string, object?> RequestQueueArguments(RabbitMqOptions options) => new()
    {
        ["x-queue-type"] = "quorum",
        ["x-delivery-limit"] = options.DeliveryLimit,
        ["x-dead-letter-exchange"] = options.DeadLetterExchange,
        ["x-dead-letter-routing-key"] = options.RequestQueue,
        ["x-dead-letter-strategy"] = "at-least-once",
        ["x-overflow"] = "reject-publish",
        ["x-max-length"] = options.MaxQueueLength,
    };

    private static Dictionary<string, object?> Quorum() => new() { ["x-queue-type"] = "quorum" };
}
