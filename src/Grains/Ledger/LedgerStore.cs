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
        SELECT {EntryColumns}, e.kind FROM entries e JOIN wallets w ON w.id = e.source_id
        WHERE e.tenant_id = @tenant AND e.seq > @after
        ORDER BY e.seq LIMIT @limit
        """;

    // A transfer's postings are its source's and destination's; a multi-leg entry lists its accounts.
    // Either way they are read by the postings' key (wallet_id, entry_seq).
    private const string SelectEntry = """
        SELECT e.id, e.kind, e.currency, e.reference, e.description, e.metadata::text, e.created_at, p.wallet_id, p.amount, w.scale
        FROM entries e
        JOIN postings p ON p.entry_seq = e.seq AND p.wallet_id = ANY (coalesce(e.accounts, ARRAY[e.source_id, e.destination_id]))
        JOIN wallets w ON w.id = p.wallet_id
        WHERE e.tenant_id = @tenant AND e.id = @id
        """;

    /// <summary>Any entry of the tenant with every posting: a multi-leg entry or a transfer.</summary>
    public async Task<EntryView?> GetEntryAsync(string tenantId, string entryId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectEntry);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", entryId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var postings = new List<(string Id, string Display, long Amount)>();
        EntryView? entry = null;
        var scale = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            entry ??= new EntryView(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetString(2),
                [],
                [],
                "posted",
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : JsonDocument.Parse(reader.GetString(5)).RootElement.Clone(),
                reader.GetFieldValue<DateTimeOffset>(6));
            var walletId = reader.GetString(7);
            postings.Add((walletId, SystemAccounts.Display(walletId), reader.GetInt64(8)));
            scale = reader.GetInt16(9);
        }

        return entry is null ? null : entry with
        {
            Debits = EntryRules.Side(postings.Where(p => p.Amount < 0), scale),
            Credits = EntryRules.Side(postings.Where(p => p.Amount > 0), scale),
        };
    }

    /// <summary>Whether entry <paramref name="entryId"/> is in the ledger: how a movement in doubt learns it committed.</summary>
    internal async Task<bool> EntryExistsAsync(string entryId)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM entries WHERE id = @id)");
        command.Parameters.AddWithValue("id", entryId);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

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
    private const string SelectRecent = $"""
        SELECT {EntryColumns}, e.tenant_id FROM entries e JOIN wallets w ON w.id = e.source_id
        WHERE e.seq > @after
        ORDER BY e.seq DESC LIMIT @limit
        """;

    // The treasury and promotions issue money (with a budget or not): what they have issued is minus
    // their balance. Every entry moves money between two wallets of one currency, so issued = held by
    // users + held by the other system accounts. A system account's name is the third part of its id.
    private const string SelectTotals = """
        SELECT currency, max(scale),
               coalesce(-sum(balance) FILTER (WHERE kind = 'system' AND split_part(id, ':', 3) IN ('treasury', 'promotions')), 0)::bigint,
               coalesce(sum(balance) FILTER (WHERE kind = 'user'), 0)::bigint,
               coalesce(sum(pending) FILTER (WHERE kind = 'user'), 0)::bigint,
               coalesce(sum(balance) FILTER (WHERE kind = 'system' AND split_part(id, ':', 3) NOT IN ('treasury', 'promotions')), 0)::bigint,
               count(*) FILTER (WHERE kind = 'user')
        FROM wallets GROUP BY currency ORDER BY currency
        """;

    /// <summary>The newest entries of every tenant after <paramref name="afterSeq"/>, newest first.</summary>
    public async Task<IReadOnlyList<LedgerTailEntry>> RecentAsync(long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectRecent);
        command.Parameters.AddWithValue("after", afterSeq);
        command.Parameters.AddWithValue("limit", limit);
        var entries = new List<LedgerTailEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LedgerTailEntry(reader.GetInt64(0), reader.GetString(11), ReadTransfer(reader)));
        }

        return entries;
    }

    /// <summary>Money per currency over every tenant, from the wallets' balances (one scan of <c>wallets</c>).</summary>
    public async Task<IReadOnlyList<CurrencyTotals>> TotalsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectTotals);
        var totals = new List<CurrencyTotals>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var scale = reader.GetInt16(1);
            totals.Add(new CurrencyTotals(
                reader.GetString(0),
                Amount.Format(reader.GetInt64(2), scale),
                Amount.Format(reader.GetInt64(3), scale),
                Amount.Format(reader.GetInt64(4), scale),
                Amount.Format(reader.GetInt64(5), scale),
                reader.GetInt64(6)));
        }

        return totals;
    }

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
            var type = reader.GetString(11) == EntryIds.KindEntry ? "entry.posted" : "transfer.posted";
            events.Add(new LedgerEvent(reader.GetInt64(0), type, ReadTransfer(reader)));
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

public sealed record LedgerTailEntry(long Seq, string TenantId, TransferView Transfer);

/// <summary>
/// One currency's money: <see cref="Issued"/> by the treasury, <see cref="HeldByUsers"/> in user
/// wallets (of which <see cref="PendingInHolds"/> is held for open holds), <see cref="InSystemAccounts"/>
/// in revenue, fees, settlement and the like. Issued = held by users + in system accounts.
/// </summary>
public sealed record CurrencyTotals(string Currency, string Issued, string HeldByUsers, string PendingInHolds, string InSystemAccounts, long UserWallets);
