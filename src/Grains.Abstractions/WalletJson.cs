using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wallet.Grains;

/// <summary>
/// The one JSON shape of the public API (snake_case). Idempotent replays store bodies written with
/// these options, so a replay is byte-for-byte what the first answer was.
/// </summary>
public static class WalletJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        // Numbers are numbers: the API reads its bodies strictly, and the OpenAPI document says so.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}

/// <summary>Times as the ledger keeps them: UTC, to the microsecond (PostgreSQL's precision).</summary>
public static class LedgerTime
{
    public static DateTimeOffset Truncate(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % 10), TimeSpan.Zero);
    }
}
