using System.Text.Json;
using Npgsql;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Ledger;

/// <summary>Reads of the ledger: transfers, a wallet's history and the events feed.</summary>
public sealed class LedgerStore(NpgsqlDataSource dataSource)
{
    private const string EntryColumns =
        "e.seq, e.id, e.source_id, e.destination_id, e.amount, e.currency, w.scale, e.reference, e.description, e.metadata::text, e.created_at";

    private const string SelectTransfer = $"""
        SELECT {EntryColumns} FROM entries e JOIN wallets w ON w.id = e.source_id
        WHERE e.tenant_id = @tenant AND e.id = @id
        """;

    private const string SelectHistory = $"""
        SELECT {EntryColumns}, p.amount, p.balance_after FROM postings p
        JOIN entries e ON e.seq = p.entry_seq JOIN wallets w ON w.id = p.wallet_id
        WHERE p.wallet_id = @wallet AND p.entry_seq < @before
        ORDER BY p.entry_seq DESC LIMIT @limit
        """;

    private const string SelectEvents = $"""
        SELECT {EntryColumns} FROM entries e JOIN wallets w ON w.id = e.source_id
        WHERE e.tenant_id = @tenant AND e.seq > @after
        ORDER BY e.seq LIMIT @limit
        """;

    public async Task<TransferView?> GetTransferAsync(string tenantId, string transferId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectTransfer);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", transferId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadTransfer(reader) : null;
    }

    /// <summary>A wallet's postings, newest first, each with the running balance after it.</summary>
    public async Task<Page<HistoryItem>> HistoryAsync(string walletId, int limit, long? beforeSeq, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectHistory);
        command.Parameters.AddWithValue("wallet", walletId);
        command.Parameters.AddWithValue("before", beforeSeq ?? long.MaxValue);
        command.Parameters.AddWithValue("limit", limit + 1);
        var items = new List<HistoryItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var transfer = ReadTransfer(reader);
            var amount = reader.GetInt64(11);
            var scale = reader.GetInt16(6);
            items.Add(new HistoryItem(
                reader.GetInt64(0),
                transfer.Id,
                amount < 0 ? "debit" : "credit",
                Amount.Format(amount, scale),
                Amount.Format(reader.GetInt64(12), scale),
                transfer.Currency,
                amount < 0 ? transfer.Destination : transfer.Source,
                transfer.Reference,
                transfer.Description,
                transfer.CreatedAt));
        }

        return Page<HistoryItem>.From(items, limit, i => i.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>A tenant's committed entries in commit order, after sequence number <paramref name="afterSeq"/>.</summary>
    public async Task<Page<LedgerEvent>> EventsAsync(string tenantId, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectEvents);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("after", afterSeq);
        command.Parameters.AddWithValue("limit", limit + 1);
        var events = new List<LedgerEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new LedgerEvent(reader.GetInt64(0), "transfer.posted", ReadTransfer(reader)));
        }

        return Page<LedgerEvent>.From(events, limit, e => e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static TransferView ReadTransfer(NpgsqlDataReader reader)
    {
        var scale = reader.GetInt16(6);
        return new TransferView(
            reader.GetString(1),
            SystemAccounts.Display(reader.GetString(2)),
            SystemAccounts.Display(reader.GetString(3)),
            Amount.Format(reader.GetInt64(4), scale),
            reader.GetString(5),
            "posted",
            reader.IsDBNull(7) ? null : reader.GetString(7),
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.IsDBNull(9) ? null : JsonDocument.Parse(reader.GetString(9)).RootElement.Clone(),
            reader.GetFieldValue<DateTimeOffset>(10));
    }
}

public sealed record HistoryItem(
    long Seq,
    string TransferId,
    string Direction,
    string Amount,
    string BalanceAfter,
    string Currency,
    string Counterparty,
    string? Reference,
    string? Description,
    DateTimeOffset CreatedAt);

public sealed record LedgerEvent(long Seq, string Type, TransferView Transfer);
