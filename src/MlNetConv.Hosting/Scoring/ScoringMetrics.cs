using System.Diagnostics.Metrics;

namespace MlNetConv.Hosting;

/// <summary>The worker's measurements, on the "MlNetConv.Hosting" meter.</summary>
public sealed class ScoringMetrics : IDisposable
{
    /// <summary>The meter's name, for listeners and exporters.</summary>
    public const string MeterName = "MlNetConv.Hosting";

    private readonly Meter meter;
    private readonly Counter<long> scored;
    private readonly Counter<long> failed;
    private readonly Histogram<double> batchLatency;
    private readonly Counter<long> reconnects;
    private double lastRate;
    private long deadLetterQueueLength;

    /// <summary>Creates the instruments on a new meter (or one from <paramref name="meterFactory"/>).</summary>
    public ScoringMetrics(IMeterFactory? meterFactory = null)
    {
        meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        scored = meter.CreateCounter<long>("mlnetconv.images.scored", "{image}", "Images scored and written to a result file");
        failed = meter.CreateCounter<long>("mlnetconv.images.failed", "{image}", "Images moved to the failed folder");
        batchLatency = meter.CreateHistogram<double>("mlnetconv.batch.duration", "ms", "Time to decode and score one batch");
        meter.CreateObservableGauge("mlnetconv.images.rate", () => Volatile.Read(ref lastRate), "{image}/s", "Images per second in the last batch");
        reconnects = meter.CreateCounter<long>("mlnetconv.transport.reconnects", "{reconnect}", "Connections to the broker lost and retried");
        meter.CreateObservableGauge("mlnetconv.transport.dead_lettered", () => Volatile.Read(ref deadLetterQueueLength), "{request}",
            "Requests in the dead-letter queue at the last check");
    }

    /// <summary>Images scored since start.</summary>
    public long Scored { get; private set; }

    /// <summary>Images failed since start.</summary>
    public long Failed { get; private set; }

    /// <summary>Broker connections lost since start (RabbitMQ transport).</summary>
    public long Reconnects { get; private set; }

    internal void RecordReconnect()
    {
        reconnects.Add(1);
        Reconnects++;
    }

    internal void RecordDeadLetterQueueLength(long length) => Volatile.Write(ref deadLetterQueueLength, length);

    internal void RecordBatch(int scoredImages, int failedImages, TimeSpan duration)
    {
        scored.Add(scoredImages);
        failed.Add(failedImages);
        batchLatency.Record(duration.TotalMilliseconds);
        Volatile.Write(ref lastRate, scoredImages / Math.Max(duration.TotalSeconds, 1e-9));
        Scored += scoredImages;
        Failed += failedImages;
    }

    /// <inheritdoc />
    public void Dispose() => meter.Dispose();
}
