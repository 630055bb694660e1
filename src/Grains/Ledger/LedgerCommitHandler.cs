using Npgsql;
using Wallet.Grains.Storage;
using static Wallet.Grains.Storage.SqlBatch;

namespace Wallet.Grains.Ledger;

/// <summary>
/// The group-commit writer of the ledger (transfers, holds, authorization decisions): one
/// transaction per batch, in two round trips.
/// </summary>
/// <remarks>
/// The first round trip begins the transaction, locks every wallet the batch touches in ascending
/// id order (so concurrent writers never deadlock), then the holds it moves (also in id order, and
/// always after their wallets), and reads the idempotency keys and references the batch would reuse. <see cref="LedgerBatch"/> then decides each item against those locked
/// rows. The second round trip applies the balances with the guard repeated in SQL (status in the
/// WHERE clause, overdraw in a CHECK constraint), appends keys, entries and postings set-based,
/// takes the entries' sequence numbers from the head row, and commits.
/// </remarks>
internal sealed class LedgerCommitHandler(NpgsqlDataSource dataSource, LedgerMetrics metrics) : ICommitHandler<LedgerItem, TransferCommitOutcome>
{
    private const string LockWallets = """
        SELECT id, tenant_id, currency, scale, status, balance, overdraft_limit, may_go_negative, version, pending
        FROM wallets WHERE id = ANY(@ids) ORDER BY id FOR UPDATE
        """;

    private const string LockHolds = """
        SELECT id, tenant_id, wallet_id, destination_id, currency, amount, captured, status
        FROM holds WHERE id = ANY(@ids) ORDER BY id FOR UPDATE
        """;

    private const string ExistingKeys = """
        SELECT k.tenant_id, k.key FROM idempotency_keys k
        JOIN unnest(@tenants::text[], @keys::text[]) AS r(tenant_id, key) ON k.tenant_id = r.tenant_id AND k.key = r.key
        """;

    private const string ExistingReferences = """
        SELECT e.tenant_id, e.reference FROM entries e
        JOIN unnest(@tenants::text[], @references::text[]) AS r(tenant_id, reference) ON e.tenant_id = r.tenant_id AND e.reference = r.reference
        """;

    // The guard repeated in SQL: a wallet whose status no longer allows the movement is not updated,
    // and then the count check aborts the transaction before the COMMIT that follows in the batch.
    private const string UpdateBalances = """
        WITH updated AS (
            UPDATE wallets AS w SET balance = w.balance + d.delta, pending = w.pending + d.pending, version = w.version + d.postings
            FROM unnest(@ids::text[], @deltas::bigint[], @pendings::bigint[], @postings::bigint[], @debited::boolean[])
                 AS d(id, delta, pending, postings, debited)
            WHERE w.id = d.id AND (w.status = 'active' OR (NOT d.debited AND w.status = 'frozen'))
            RETURNING 1)
        SELECT ledger_assert(count(*) = cardinality(@ids::text[]), 'the balance guard refused a wallet update') FROM updated
        """;

    private const string InsertKeys = """
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, outcome, body)
        SELECT tenant_id, key, request_hash, outcome, body
        FROM unnest(@tenants::text[], @keys::text[], @hashes::text[], @outcomes::text[], @bodies::text[])
             AS k(tenant_id, key, request_hash, outcome, body)
        """;

    private const string InsertHolds = """
        INSERT INTO holds (id, tenant_id, wallet_id, destination_id, currency, amount, status, reference, metadata, expires_at, created_at)
        SELECT id, tenant_id, wallet_id, destination_id, currency, amount, 'open', reference, metadata::jsonb, expires_at, created_at
        FROM unnest(@ids::text[], @tenants::text[], @wallets::text[], @destinations::text[], @currencies::text[], @amounts::bigint[],
                    @references::text[], @metadata::text[], @expires::timestamptz[], @created::timestamptz[])
             AS h(id, tenant_id, wallet_id, destination_id, currency, amount, reference, metadata, expires_at, created_at)
        """;

    // Only holds still open move; the count check aborts the batch if one was not.
    private const string UpdateHolds = """
        WITH updated AS (
            UPDATE holds AS h SET amount = d.amount, captured = d.captured, status = d.status, closed_at = d.closed_at
            FROM unnest(@ids::text[], @amounts::bigint[], @captured::bigint[], @statuses::text[], @closed::timestamptz[])
                 AS d(id, amount, captured, status, closed_at)
            WHERE h.id = d.id AND h.status = 'open'
            RETURNING 1)
        SELECT ledger_assert(count(*) = cardinality(@ids::text[]), 'a hold the batch moved was not open') FROM updated
        """;

    private const string InsertAuthorizations = """
        INSERT INTO card_authorizations (id, tenant_id, card_id, wallet_id, approved, decline_code, decline_detail, amount, currency,
            merchant_name, merchant_category, merchant_country, description, fraud_score, fraud_reasons, fraud_rules, review, hold_id, controls_version, created_at,
            merchant_name_original)
        SELECT id, tenant_id, card_id, wallet_id, hold_id IS NOT NULL, decline_code, decline_detail, amount, currency,
            merchant_name, merchant_category, merchant_country, description, fraud_score, fraud_reasons::jsonb, fraud_rules::jsonb, review, hold_id, controls_version, created_at,
            merchant_name_original
        FROM unnest(@ids::text[], @tenants::text[], @cards::text[], @wallets::text[], @codes::text[], @details::text[], @amounts::bigint[],
                    @currencies::text[], @merchants::text[], @categories::text[], @countries::text[], @descriptions::text[], @scores::numeric[],
                    @reasons::text[], @rules::text[], @reviews::boolean[], @holds::text[], @versions::integer[], @created::timestamptz[],
                    @merchants_original::text[])
             AS a(id, tenant_id, card_id, wallet_id, decline_code, decline_detail, amount, currency, merchant_name, merchant_category,
                  merchant_country, description, fraud_score, fraud_reasons, fraud_rules, review, hold_id, controls_version, created_at,
                  merchant_name_original)
        """;

    // Sequence numbers are taken last: the head row is locked from here to COMMIT only, and entries
    // get contiguous numbers in commit order, and the batch's commit time taken under that lock
    // (migration 0034). Seqs in the arrays are relative to the batch (1..n).
    private const string InsertEntriesAndPostings = """
        WITH head AS (
            UPDATE ledger_head SET last_seq = last_seq + cardinality(@entry_ids::text[])
            RETURNING last_seq - cardinality(@entry_ids::text[]) AS base, clock_timestamp() AS committed_at),
        written AS (
            INSERT INTO entries (seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at, hold_id,
                                 committed_at)
            SELECT head.base + e.seq, e.id, e.tenant_id, e.source_id, e.destination_id, e.amount, e.currency, e.reference, e.description,
                   e.metadata::jsonb, e.created_at, e.hold_id, head.committed_at
            FROM head, unnest(@entry_seqs::bigint[], @entry_ids::text[], @tenants::text[], @sources::text[], @destinations::text[],
                              @amounts::bigint[], @currencies::text[], @references::text[], @descriptions::text[], @metadata::text[],
                              @created::timestamptz[], @hold_ids::text[])
                 AS e(seq, id, tenant_id, source_id, destination_id, amount, currency, reference, description, metadata, created_at, hold_id))
        INSERT INTO postings (wallet_id, entry_seq, amount, currency, balance_after, wallet_version)
        SELECT p.wallet_id, head.base + p.seq, p.amount, p.currency, p.balance_after, p.version
        FROM head, unnest(@posting_wallets::text[], @posting_seqs::bigint[], @posting_amounts::bigint[], @posting_currencies::text[],
                          @posting_balances::bigint[], @posting_versions::bigint[])
             AS p(wallet_id, seq, amount, currency, balance_after, version)
        """;

    /// <summary>Any outcome but a commit means the grain's tentative debit did not happen: reload.</summary>
    public bool InvalidatesCachedState(TransferCommitOutcome outcome) => outcome.Status != CommitStatus.Committed;

    /// <summary>Called between the two round trips of a batch; lets tests inject a failure mid-batch.</summary>
    internal Func<NpgsqlConnection, IReadOnlyList<LedgerItem>, Task>? BeforeWrite { get; set; }

    public async Task<TransferCommitOutcome[]> CommitAsync(IReadOnlyList<LedgerItem> items, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var snapshot = await BeginAndReadAsync(connection, items, cancellationToken);
            var plan = LedgerBatch.Plan(items, snapshot);
            if (BeforeWrite is { } beforeWrite)
            {
                await beforeWrite(connection, items);
            }

            await WriteAndCommitAsync(connection, plan, cancellationToken);
            metrics.RecordEntries(plan.Entries.Count);
            return plan.Outcomes;
        }
        catch
        {
            await RollbackQuietlyAsync(connection);
            throw;
        }
    }

    // Round trip 1: BEGIN, lock the wallets in id order, read the keys and references already used.
    private static async Task<BatchSnapshot> BeginAndReadAsync(NpgsqlConnection connection, IReadOnlyList<LedgerItem> items, CancellationToken cancellationToken)
    {
        var walletIds = items.SelectMany(WalletsOf).Distinct().ToArray();
        var holdIds = items.OfType<StagedHold>().Where(h => h.Move != HoldMove.Place).Select(h => h.HoldId).Distinct().ToArray();
        var keyed = items.Where(i => i.Idempotency is not null).ToArray();
        var referenced = items.OfType<StagedTransfer>().Where(i => i.Reference is not null).ToArray();

        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command("BEGIN"));
        batch.BatchCommands.Add(Command(LockWallets, ("ids", walletIds)));
        if (holdIds.Length > 0)
        {
            batch.BatchCommands.Add(Command(LockHolds, ("ids", holdIds)));
        }

        // Most batches carry no references, many no keys: ask only about what is there.
        if (keyed.Length > 0)
        {
            batch.BatchCommands.Add(Command(ExistingKeys,
                ("tenants", keyed.Select(i => i.TenantId).ToArray()), ("keys", keyed.Select(i => i.Idempotency!.Key).ToArray())));
        }

        if (referenced.Length > 0)
        {
            batch.BatchCommands.Add(Command(ExistingReferences,
                ("tenants", referenced.Select(i => i.TenantId).ToArray()), ("references", referenced.Select(i => i.Reference!).ToArray())));
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var wallets = new Dictionary<string, LockedWallet>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            wallets[reader.GetString(0)] = new LockedWallet(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt16(3), reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6), reader.GetBoolean(7), reader.GetInt64(8)) { Pending = reader.GetInt64(9) };
        }

        var holds = new Dictionary<string, LockedHold>(StringComparer.Ordinal);
        if (holdIds.Length > 0 && await reader.NextResultAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                holds[reader.GetString(0)] = new LockedHold(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetString(7));
            }
        }

        var keys = keyed.Length > 0 && await reader.NextResultAsync(cancellationToken) ? await ReadPairsAsync(reader, cancellationToken) : [];
        var references = referenced.Length > 0 && await reader.NextResultAsync(cancellationToken) ? await ReadPairsAsync(reader, cancellationToken) : [];
        // Plan with sequence numbers relative to the batch; the head gives the base when writing.
        return new BatchSnapshot(wallets, keys, references, LastSeq: 0, holds);
    }

    private static IEnumerable<string> WalletsOf(LedgerItem item) => item switch
    {
        StagedTransfer transfer => [transfer.SourceId, transfer.DestinationId],
        StagedHold { Move: HoldMove.Capture } capture => [capture.WalletId, capture.DestinationId],
        StagedHold hold => [hold.WalletId],
        _ => [],
    };

    private static async Task<HashSet<(string, string)>> ReadPairsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var pairs = new HashSet<(string, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            pairs.Add((reader.GetString(0), reader.GetString(1)));
        }

        return pairs;
    }

    // Round trip 2: balances (guarded), holds, keys, decisions, entries and postings with their sequence numbers, COMMIT.
    private static async Task WriteAndCommitAsync(NpgsqlConnection connection, LedgerBatch plan, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        AddWalletAndHoldWrites(batch, plan);
        AddKeysAndDecisions(batch, plan);
        if (plan.Entries.Count > 0)
        {
            AddEntries(batch, plan);
        }

        batch.BatchCommands.Add(Command("COMMIT"));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddWalletAndHoldWrites(NpgsqlBatch batch, LedgerBatch plan)
    {
        var wallets = plan.ChangedWallets;
        if (wallets.Count > 0)
        {
            batch.BatchCommands.Add(Command(UpdateBalances,
                ("ids", wallets.Select(w => w.Id).ToArray()),
                ("deltas", wallets.Select(w => w.Delta).ToArray()),
                ("pendings", wallets.Select(w => w.PendingDelta).ToArray()),
                ("postings", wallets.Select(w => (long)w.Postings).ToArray()),
                ("debited", wallets.Select(w => w.Debited).ToArray())));
        }

        var placed = plan.PlacedHolds;
        if (placed.Count > 0)
        {
            batch.BatchCommands.Add(Command(InsertHolds,
                ("ids", placed.Select(h => h.HoldId).ToArray()),
                ("tenants", placed.Select(h => h.TenantId).ToArray()),
                ("wallets", placed.Select(h => h.WalletId).ToArray()),
                ("destinations", placed.Select(h => h.DestinationId).ToArray()),
                ("currencies", placed.Select(h => h.Currency).ToArray()),
                ("amounts", placed.Select(h => h.Amount).ToArray()),
                ("references", placed.Select(h => h.Reference).ToArray()),
                ("metadata", placed.Select(h => h.MetadataJson).ToArray()),
                ("expires", placed.Select(h => h.ExpiresAt).ToArray()),
                ("created", placed.Select(h => h.At).ToArray())));
        }

        var moved = plan.ChangedHolds;
        if (moved.Count > 0)
        {
            batch.BatchCommands.Add(Command(UpdateHolds,
                ("ids", moved.Select(h => h.Id).ToArray()),
                ("amounts", moved.Select(h => h.Amount).ToArray()),
                ("captured", moved.Select(h => h.Captured).ToArray()),
                ("statuses", moved.Select(h => h.Status).ToArray()),
                ("closed", moved.Select(h => h.ClosedAt).ToArray())));
        }
    }

    private static void AddKeysAndDecisions(NpgsqlBatch batch, LedgerBatch plan)
    {
        // Keys in one order everywhere, so two batches inserting the same keys cannot deadlock.
        var keyed = plan.Keyed.OrderBy(t => t.TenantId, StringComparer.Ordinal).ThenBy(t => t.Idempotency!.Key, StringComparer.Ordinal).ToArray();
        if (keyed.Length > 0)
        {
            batch.BatchCommands.Add(Command(InsertKeys,
                ("tenants", keyed.Select(t => t.TenantId).ToArray()),
                ("keys", keyed.Select(t => t.Idempotency!.Key).ToArray()),
                ("hashes", keyed.Select(t => t.Idempotency!.RequestHash).ToArray()),
                ("outcomes", keyed.Select(t => IdempotencyStore.NameOf(t.Answer!.Outcome)).ToArray()),
                ("bodies", keyed.Select(t => t.Answer!.Body).ToArray())));
        }

        var decisions = plan.Authorizations;
        if (decisions.Count > 0)
        {
            var views = decisions.Select(d => d.View).ToArray();
            batch.BatchCommands.Add(Command(InsertAuthorizations,
                ("ids", views.Select(v => v.Id).ToArray()),
                ("tenants", decisions.Select(d => d.TenantId).ToArray()),
                ("cards", views.Select(v => v.CardId).ToArray()),
                ("wallets", views.Select(v => v.WalletId).ToArray()),
                ("codes", views.Select(v => v.Decline?.Code).ToArray()),
                ("details", views.Select(v => v.Decline?.Detail).ToArray()),
                ("amounts", decisions.Select(d => d.AmountMinor).ToArray()),
                ("currencies", views.Select(v => v.Currency).ToArray()),
                ("merchants", views.Select(v => v.MerchantName).ToArray()),
                ("categories", views.Select(v => v.MerchantCategory).ToArray()),
                ("countries", views.Select(v => v.MerchantCountry).ToArray()),
                ("descriptions", views.Select(v => v.Description).ToArray()),
                ("scores", views.Select(v => v.Fraud.Score).ToArray()),
                ("reasons", views.Select(v => System.Text.Json.JsonSerializer.Serialize(v.Fraud.Reasons, WalletJson.Options)).ToArray()),
                ("rules", decisions.Select(d => System.Text.Json.JsonSerializer.Serialize(d.FraudRules, WalletJson.Options)).ToArray()),
                ("reviews", views.Select(v => v.Review).ToArray()),
                ("holds", views.Select(v => v.HoldId).ToArray()),
                ("versions", views.Select(v => v.ControlsVersion).ToArray()),
                ("created", views.Select(v => v.CreatedAt).ToArray()),
                ("merchants_original", views.Select(v => v.MerchantNameOriginal).ToArray())));
        }
    }

    private static void AddEntries(NpgsqlBatch batch, LedgerBatch plan)
    {
        var entries = plan.Entries;
        var postings = plan.Postings;
        batch.BatchCommands.Add(Command(InsertEntriesAndPostings,
            ("entry_seqs", entries.Select(e => e.Seq).ToArray()),
            ("entry_ids", entries.Select(e => e.Transfer.TransferId).ToArray()),
            ("tenants", entries.Select(e => e.Transfer.TenantId).ToArray()),
            ("sources", entries.Select(e => e.Transfer.SourceId).ToArray()),
            ("destinations", entries.Select(e => e.Transfer.DestinationId).ToArray()),
            ("amounts", entries.Select(e => e.Transfer.Amount).ToArray()),
            ("currencies", entries.Select(e => e.Transfer.Currency).ToArray()),
            ("references", entries.Select(e => e.Transfer.Reference).ToArray()),
            ("descriptions", entries.Select(e => e.Transfer.Description).ToArray()),
            ("metadata", entries.Select(e => e.Transfer.MetadataJson).ToArray()),
            ("created", entries.Select(e => e.Transfer.CreatedAt).ToArray()),
            ("hold_ids", entries.Select(e => e.Transfer.HoldId).ToArray()),
            ("posting_wallets", postings.Select(p => p.WalletId).ToArray()),
            ("posting_seqs", postings.Select(p => p.EntrySeq).ToArray()),
            ("posting_amounts", postings.Select(p => p.Amount).ToArray()),
            ("posting_currencies", postings.Select(p => p.Currency).ToArray()),
            ("posting_balances", postings.Select(p => p.BalanceAfter).ToArray()),
            ("posting_versions", postings.Select(p => p.WalletVersion).ToArray())));
    }

    // After a failure the server may already have ended the transaction, or the connection may be
    // gone; either way nothing of the batch is committed, and the pool discards a broken connection.
    private static async Task RollbackQuietlyAsync(NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }
}
