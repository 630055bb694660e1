using Npgsql;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Holds;

/// <summary>Reads of holds. Holds change only through their wallet's turns and the group commit.</summary>
public sealed class HoldStore(NpgsqlDataSource dataSource)
{
    private const string SelectHold = """
        SELECT h.id, h.wallet_id, h.destination_id, h.amount, h.captured, h.currency, w.scale, h.status, h.reference, h.metadata::text,
               h.expires_at, h.created_at, h.closed_at
        FROM holds h JOIN wallets w ON w.id = h.wallet_id
        WHERE h.tenant_id = @tenant AND h.id = @id
        """;

    public async Task<HoldView?> GetAsync(string tenantId, string holdId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectHold);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", holdId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var scale = reader.GetInt16(6);
        var amount = reader.GetInt64(3);
        var captured = reader.GetInt64(4);
        var status = reader.GetString(7);
        return new HoldView(
            reader.GetString(0),
            reader.GetString(1),
            SystemAccounts.Display(reader.GetString(2)),
            Amount.Format(amount, scale),
            Amount.Format(captured, scale),
            Amount.Format(status == HoldStatuses.Open ? amount - captured : 0, scale),
            reader.GetString(5),
            status,
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.IsDBNull(9) ? null : System.Text.Json.JsonDocument.Parse(reader.GetString(9)).RootElement.Clone(),
            reader.GetFieldValue<DateTimeOffset>(10),
            reader.GetFieldValue<DateTimeOffset>(11),
            reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12));
    }
}
