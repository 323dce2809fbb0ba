using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetConv.Hosting;

/// <summary>
/// The messages of the RabbitMQ transport, version 1.
/// <para>
/// A request is published to the request queue, persistent, with <c>message_id</c> = the request id (unique per image;
/// results carry it back) and <c>type</c> = <see cref="RequestType"/>. Its body is either the image's bytes
/// (<c>content_type</c> <c>image/png</c>, <c>image/jpeg</c>, …, or <c>application/octet-stream</c>), or, for a large
/// image, a reference to it (a claim check): <c>content_type</c> <see cref="ReferenceContentType"/> and the body
/// <c>{"path": "/data/images/a.png", "sha256": "…64 hex digits…"}</c>, a file under the worker's ReferenceRoot whose
/// SHA-256 must match.
/// </para>
/// <para>
/// A result is published to the result queue with <c>type</c> <see cref="ResultType"/> or <see cref="FailureType"/>,
/// <c>correlation_id</c> = the request id, <c>message_id</c> = <see cref="ScoringResult.Key"/> (request id and model id)
/// and a JSON body (<see cref="ScoringResult"/>). Delivery is at least once: after a worker crash or a lost connection
/// a request is scored again and its result published again with the same key, so a consumer keeps the first result
/// per key and drops the rest.
/// </para>
/// </summary>
public static class ScoringMessages
{
    /// <summary>The contract version these messages follow (the <c>version</c> field of results, the <see cref="VersionHeader"/> of requests).</summary>
    public const int Version = 1;

    /// <summary>The header holding the contract version on requests.</summary>
    public const string VersionHeader = "mlnetconv-version";

    /// <summary>The <c>type</c> of a request.</summary>
    public const string RequestType = "mlnetconv.score-request";

    /// <summary>The <c>type</c> of a result with a prediction.</summary>
    public const string ResultType = "mlnetconv.score-result";

    /// <summary>The <c>type</c> of a result saying why a request could not be scored.</summary>
    public const string FailureType = "mlnetconv.score-failure";

    /// <summary>The <c>content_type</c> of a request that refers to an image file instead of carrying it.</summary>
    public const string ReferenceContentType = "application/vnd.mlnetconv.image-reference+json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>A request's reference to an image file (a claim check): its path and SHA-256 (lowercase hex).</summary>
public sealed record ImageReference(string Path, string Sha256)
{
    internal byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ScoringMessages.Json);

    internal static ImageReference? Parse(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize<ImageReference>(json, ScoringMessages.Json);
}

/// <summary>One label and its probability.</summary>
public sealed record LabelScore(string Label, float Score);

/// <summary>
/// What became of one request: the predicted label and the top scores, or the reason it failed; by which model and
/// when. <see cref="Key"/> identifies it across redeliveries.
/// </summary>
public sealed record ScoringResult
{
    /// <summary>The contract version.</summary>
    public int Version { get; init; } = ScoringMessages.Version;

    /// <summary>The request's id (its <c>message_id</c>).</summary>
    public required string RequestId { get; init; }

    /// <summary>The model zip's id (the first 12 hex digits of its SHA-256).</summary>
    public required string ModelId { get; init; }

    /// <summary>The predicted label; null for a failure.</summary>
    public string? PredictedLabel { get; init; }

    /// <summary>The three best labels and their probabilities; null for a failure.</summary>
    public IReadOnlyList<LabelScore>? Top { get; init; }

    /// <summary>Why the request could not be scored; null for a prediction.</summary>
    public string? Reason { get; init; }

    /// <summary>When it was scored (UTC).</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>Whether this is a prediction (else a failure).</summary>
    [JsonIgnore]
    public bool Succeeded => Reason is null;

    /// <summary>"request id/model id": the same for every redelivered copy of this result; keep one per key.</summary>
    [JsonIgnore]
    public string Key => $"{RequestId}/{ModelId}";

    /// <summary>The JSON body.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ScoringMessages.Json);

    /// <summary>Reads a result body; throws <see cref="JsonException"/> for anything else.</summary>
    public static ScoringResult Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<ScoringResult>(json, ScoringMessages.Json) ?? throw new JsonException("A result body is null.");

    internal static ScoringResult From(ScoringOutcome outcome) => new()
    {
        RequestId = outcome.Id,
        ModelId = outcome.ModelId,
        PredictedLabel = outcome.Prediction?.PredictedLabel,
        Top = outcome.Prediction?.Top.Select(t => new LabelScore(t.Label, t.Score)).ToArray(),
        Reason = outcome.FailureReason,
        Time = outcome.Time,
    };

    /// <inheritdoc />
    public override string ToString() => Succeeded
        ? string.Create(CultureInfo.InvariantCulture, $"{RequestId}: {PredictedLabel} ({Top?[0].Score:P1}) by {ModelId}")
        : $"{RequestId}: failed ({Reason}) by {ModelId}";
}
