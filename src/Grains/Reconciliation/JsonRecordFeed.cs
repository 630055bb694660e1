using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// Records pushed as JSON objects, their fields named as the source's mapping says (a processor's
/// own field names). A string is taken as it is, a number as it is written (never through a
/// binary fraction); a record's line is its place in the batch, from 1.
/// </summary>
public sealed class JsonRecordFeed(IReadOnlyList<JsonElement> records) : IRecordFeed
{
    public string? Name => null;

    public string? Sha256 => null;

    public long? SizeBytes => null;

    public async IAsyncEnumerable<RawRecord> ReadAsync(ExternalRecordReader reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask;
        for (var i = 0; i < records.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = records[i];
            if (record.ValueKind != JsonValueKind.Object)
            {
                yield return new RawRecord(i + 1, _ => null) { Problem = "the record is not a JSON object" };
                continue;
            }

            yield return new RawRecord(i + 1, name => Field(record, name));
        }
    }

    private static string? Field(JsonElement record, string name) =>
        !record.TryGetProperty(name, out var value) ? null : value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        };
}
