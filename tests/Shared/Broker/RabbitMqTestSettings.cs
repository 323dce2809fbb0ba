using MlNetConv.Hosting;

namespace MlNetConv.Tests.Shared;

/// <summary>Queues of their own for one test or benchmark run on a shared broker, and the worker settings that use them.</summary>
public static class RabbitMqTestSettings
{
    /// <summary>The transport's options with every queue and the dead-letter exchange named after <paramref name="prefix"/>.</summary>
    public static RabbitMqOptions FreshQueues(string uri, string prefix) => new()
    {
        Uri = uri,
        RequestQueue = $"{prefix}.requests",
        RetryQueue = $"{prefix}.retry",
        ResultQueue = $"{prefix}.results",
        DeadLetterQueue = $"{prefix}.dead-letter",
        DeadLetterExchange = $"{prefix}.dlx",
    };

    /// <summary>
    /// A worker's configuration (keys as in appsettings.json) for the RabbitMQ transport on <paramref name="broker"/>'s
    /// queues with the given model, batch size and threads, reconnecting and checking the dead letters quickly.
    /// </summary>
    public static Dictionary<string, string?> Worker(RabbitMqOptions broker, string modelPath, int batchSize, int threads) => new()
    {
        ["ImageScoring:Transport"] = "RabbitMq",
        ["ImageScoring:ModelPath"] = modelPath,
        ["ImageScoring:BatchSize"] = batchSize.ToString(),
        ["ImageScoring:MaxDegreeOfParallelism"] = threads.ToString(),
        ["ImageScoring:RabbitMq:Uri"] = broker.Uri,
        ["ImageScoring:RabbitMq:RequestQueue"] = broker.RequestQueue,
        ["ImageScoring:RabbitMq:RetryQueue"] = broker.RetryQueue,
        ["ImageScoring:RabbitMq:ResultQueue"] = broker.ResultQueue,
        ["ImageScoring:RabbitMq:DeadLetterQueue"] = broker.DeadLetterQueue,
        ["ImageScoring:RabbitMq:DeadLetterExchange"] = broker.DeadLetterExchange,
        ["ImageScoring:RabbitMq:DeliveryLimit"] = broker.DeliveryLimit.ToString(),
        ["ImageScoring:RabbitMq:ReconnectDelay"] = "00:00:00.100",
        ["ImageScoring:RabbitMq:MaxReconnectDelay"] = "00:00:01",
        ["ImageScoring:RabbitMq:DeadLetterCheckInterval"] = "00:00:00.500",
    };
}
