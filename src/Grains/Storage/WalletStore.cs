using System.Text;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;
using Wallet.Grains.Holds;
using Wallet.Grains.Money;
using Wallet.Grains.Transactions;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Storage;

/// <summary>Wallet rows: read, create, change status, list. Balances change only in <see cref="LedgerStore"/>.</summary>
public sealed class WalletStore(NpgsqlDataSource dataSource, CurrencyCatalog currencies)
{
    private const string Columns =
        "id, tenant_id, kind, currency, scale, status, owner_id, balance, pending, overdraft_limit, may_go_negative, version, metadata::text, created_at, " +
        "owner::text, review_screening_id";

    // One statement, so the wallet's pending and its open holds come from one snapshot.
    private const string SelectWithOpenHolds = """
        SELECT w.id, w.tenant_id, w.kind, w.currency, w.scale, w.status, w.owner_id, w.balance, w.pending, w.overdraft_limit,
               w.may_go_negative, w.version, w.metadata::text, w.created_at, w.owner::text, w.review_screening_id,
               h.id, h.destination_id, h.amount, h.captured, h.reference, h.metadata::text, h.expires_at, h.created_at
        FROM wallets w LEFT JOIN holds h ON h.wallet_id = w.id AND h.status = 'open'
        WHERE w.id = @id
        """;

    private const string InsertWallet = """
        INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, owner_id, overdraft_limit, may_go_negative, metadata, created_at,
                             owner, review_screening_id)
        VALUES (@id, @tenant, @kind, @currency, @scale, 'active', @owner, @overdraft, @negative, @metadata::jsonb, @created,
                @person::jsonb, @review)
        ON CONFLICT (id) DO NOTHING
        """;

    private const string UpdateStatus = """
        UPDATE wallets SET status = @status
        WHERE id = @id AND tenant_id = @tenant AND status = @expected AND (@status <> 'closed' OR (balance = 0 AND pending = 0))
        """;

    // A budget is the row's overdraft limit with may_go_negative off, which the row's no-overdraw check
    // holds every posting to; refused (no row) when the account has issued more than the budget already.
    private const string UpdateBudget = """
        UPDATE wallets SET may_go_negative = @unlimited, overdraft_limit = @budget
        WHERE id = @id AND tenant_id = @tenant AND kind = 'system' AND (@unlimited OR balance - pending >= -@budget)
        """;

    /// <summary>The wallet row and its open holds.</summary>
    internal async Task<WalletState?> ReadAsync(string walletId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectWithOpenHolds);
        command.Parameters.AddWithValue("id", walletId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        WalletState? wallet = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            wallet ??= ReadWallet(reader);
            if (reader.IsDBNull(16))
            {
                continue;
            }

            var hold = new HoldRecord(
                reader.GetString(16),
                wallet.TenantId,
                reader.GetString(17),
                reader.GetInt64(18),
                reader.GetInt64(19),
                HoldStatuses.Open,
                reader.IsDBNull(20) ? null : reader.GetString(20),
                reader.IsDBNull(21) ? null : reader.GetString(21),
                reader.GetFieldValue<DateTimeOffset>(22),
                reader.GetFieldValue<DateTimeOffset>(23),
                null);
            wallet.Holds[hold.Id] = hold;
        }

        return wallet;
    }

    /// <summary>
    /// Creates a user wallet and its tenant's system accounts in the currency, with the idempotency
    /// key, in one transaction. False when the idempotency key exists already: nothing was created.
    /// </summary>
    internal async Task<bool> CreateAsync(
        WalletState wallet, IdempotencyRequest? idempotency, Func<WalletState, StoredAnswer> answer, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (idempotency is not null &&
            !await IdempotencyStore.TryInsertAsync(connection, wallet.TenantId, idempotency, answer(wallet), cancellationToken))
        {
            await transaction.RollbackAsync(cancellationToken);
            return false;
        }

        await InsertAsync(connection, wallet, cancellationToken);
        await EnsureSystemAccountsAsync(connection, wallet.TenantId, wallet.Currency, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    internal async Task EnsureSystemAccountsAsync(string tenantId, Currency currency, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await EnsureSystemAccountsAsync(connection, tenantId, currency, cancellationToken);
    }

    /// <summary>
    /// Moves a wallet from <paramref name="expected"/> to <paramref name="status"/> (or leaves it, when
    /// they are the same), with the idempotency key, in one transaction. <see cref="StatusChangeOutcome.StatusMoved"/> when the row is no longer in
    /// the expected status or, when closing, holds money.
    /// </summary>
    internal async Task<StatusChangeOutcome> ChangeStatusAsync(
        WalletState wallet, string expected, string status, IdempotencyRequest? idempotency, StoredAnswer answer, AuditEvent? audit,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (idempotency is not null &&
            !await IdempotencyStore.TryInsertAsync(connection, wallet.TenantId, idempotency, answer, cancellationToken))
        {
            await transaction.RollbackAsync(cancellationToken);
            return StatusChangeOutcome.IdempotencyKeyExists;
        }

        if (expected == status)
        {
            // Nothing to change, but the answer is recorded under the key like any other.
            await transaction.CommitAsync(cancellationToken);
            return StatusChangeOutcome.Changed;
        }

        await using var command = new NpgsqlCommand(UpdateStatus, connection, transaction);
        command.Parameters.AddWithValue("id", wallet.Id);
        command.Parameters.AddWithValue("tenant", wallet.TenantId);
        command.Parameters.AddWithValue("expected", expected);
        command.Parameters.AddWithValue("status", status);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            await transaction.RollbackAsync(cancellationToken);
            return StatusChangeOutcome.StatusMoved;
        }

        await AuditLog.AppendAsync(connection, transaction, audit, cancellationToken);

        await transaction.CommitAsync(cancellationToken);
        return StatusChangeOutcome.Changed;
    }

    /// <summary>
    /// Sets the budget of a system account that issues money (null: none); false when it has issued
    /// more than <paramref name="budget"/> already.
    /// </summary>
    internal async Task<bool> SetBudgetAsync(WalletState account, long? budget, AuditEvent? audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(UpdateBudget, connection, transaction);
        command.Parameters.AddWithValue("id", account.Id);
        command.Parameters.AddWithValue("tenant", account.TenantId);
        command.Parameters.AddWithValue("unlimited", budget is null);
        command.Parameters.AddWithValue("budget", budget ?? 0);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            return false;
        }

        await AuditLog.AppendAsync(connection, transaction, audit, cancellationToken);

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<Page<WalletView>> ListAsync(WalletQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {Columns} FROM wallets WHERE tenant_id = @tenant AND kind = 'user'");
        await using var command = dataSource.CreateCommand();
        command.Parameters.AddWithValue("tenant", query.TenantId);
        AddFilter(sql, command, "owner_id", query.OwnerId);
        AddFilter(sql, command, "status", query.Status);
        AddFilter(sql, command, "currency", query.Currency);
        if (query.After is not null)
        {
            sql.Append(" AND id > @after");
            command.Parameters.AddWithValue("after", query.After);
        }

        sql.Append(" ORDER BY id LIMIT @limit");
        command.Parameters.AddWithValue("limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        var wallets = new List<WalletView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            wallets.Add(ReadWallet(reader).ToView());
        }

        return Page<WalletView>.From(wallets, query.Limit, w => w.Id);
    }

    private static void AddFilter(StringBuilder sql, NpgsqlCommand command, string column, string? value)
    {
        if (value is null)
        {
            return;
        }

        sql.Append(" AND ").Append(column).Append(" = @").Append(column);
        command.Parameters.AddWithValue(column, value);
    }

    private static async Task InsertAsync(NpgsqlConnection connection, WalletState wallet, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(InsertWallet, connection);
        command.Parameters.AddWithValue("id", wallet.Id);
        command.Parameters.AddWithValue("tenant", wallet.TenantId);
        command.Parameters.AddWithValue("kind", wallet.IsSystem ? "system" : "user");
        command.Parameters.AddWithValue("currency", wallet.Currency.Code);
        command.Parameters.AddWithValue("scale", (short)wallet.Currency.Scale);
        command.Parameters.AddWithValue("owner", (object?)wallet.OwnerId ?? DBNull.Value);
        command.Parameters.AddWithValue("overdraft", wallet.OverdraftLimit);
        command.Parameters.AddWithValue("negative", wallet.MayGoNegative);
        command.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Text) { Value = (object?)wallet.MetadataJson ?? DBNull.Value });
        command.Parameters.AddWithValue("created", wallet.CreatedAt);
        command.Parameters.Add(new NpgsqlParameter("person", NpgsqlDbType.Text) { Value = (object?)OwnerJson(wallet.Owner) ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<string?>("review", NpgsqlDbType.Text) { TypedValue = wallet.ComplianceReview });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task EnsureSystemAccountsAsync(NpgsqlConnection connection, string tenantId, Currency currency, CancellationToken cancellationToken)
    {
        foreach (var name in SystemAccounts.Names)
        {
            await InsertAsync(connection, new WalletState
            {
                Exists = true,
                Id = SystemAccounts.WalletId(tenantId, name, currency.Code),
                TenantId = tenantId,
                IsSystem = true,
                Currency = currency,
                MayGoNegative = SystemAccounts.MayGoNegative(name),
                CreatedAt = DateTimeOffset.UtcNow,
            }, cancellationToken);
        }
    }

    private WalletState ReadWallet(NpgsqlDataReader reader)
    {
        var code = reader.GetString(3);
        var scale = reader.GetInt16(4);
        return new WalletState
        {
            Exists = true,
            Id = reader.GetString(0),
            TenantId = reader.GetString(1),
            IsSystem = reader.GetString(2) == "system",
            Currency = currencies.TryGet(code, out var known) && known.Scale == scale ? known : new Currency(code, scale),
            Status = reader.GetString(5),
            OwnerId = reader.IsDBNull(6) ? null : reader.GetString(6),
            Balance = reader.GetInt64(7),
            Pending = reader.GetInt64(8),
            OverdraftLimit = reader.GetInt64(9),
            MayGoNegative = reader.GetBoolean(10),
            LoadedVersion = reader.GetInt64(11),
            Metadata = reader.IsDBNull(12) ? null : System.Text.Json.JsonDocument.Parse(reader.GetString(12)).RootElement.Clone(),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(13),
            Owner = reader.IsDBNull(14) ? null : ReadOwner(reader.GetString(14)),
            ComplianceReview = reader.IsDBNull(15) ? null : reader.GetString(15),
        };
    }

    /// <summary>A wallet's owner and the screening it is under review for, as its row holds them now; null when there is no such wallet.</summary>
    internal async Task<(WalletOwner? Owner, string? Review)?> ReadComplianceAsync(string walletId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT owner::text, review_screening_id FROM wallets WHERE id = @id");
        command.Parameters.AddWithValue("id", walletId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.IsDBNull(0) ? null : ReadOwner(reader.GetString(0)), reader.IsDBNull(1) ? null : reader.GetString(1))
            : null;
    }

    internal static string? OwnerJson(WalletOwner? owner) => owner is null ? null : System.Text.Json.JsonSerializer.Serialize(owner, WalletJson.Options);

    internal static WalletOwner ReadOwner(string json) => System.Text.Json.JsonSerializer.Deserialize<WalletOwner>(json, WalletJson.Options)!;
}

internal enum StatusChangeOutcome
{
    Changed,
    StatusMoved,
    IdempotencyKeyExists,
}

public sealed record WalletQuery(string TenantId, string? OwnerId, string? Status, string? Currency, int Limit, string? After);

/// <summary>One page of a list and the cursor of the next, null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, string? NextCursor)
{
    /// <summary>Builds a page from up to <paramref name="limit"/> + 1 rows: the extra row only says there is more.</summary>
    public static Page<T> From(List<T> rows, int limit, Func<T, string> cursorOf)
    {
        if (rows.Count <= limit)
        {
            return new Page<T>(rows, null);
        }

        rows.RemoveAt(rows.Count - 1);
        return new Page<T>(rows, cursorOf(rows[^1]));
    }
}
