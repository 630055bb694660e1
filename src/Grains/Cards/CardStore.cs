using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Auth;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;
using static Wallet.Grains.Storage.SqlBatch;

namespace Wallet.Grains.Cards;

public sealed record CardQuery(string TenantId, string? Status, string? WalletId, int Limit, string? After);

/// <summary>
/// Which authorizations to list: of a card or the tenant, by status, and by their receipt's status
/// (<c>missing</c>: open or captured, and no receipt uploaded for it).
/// </summary>
public sealed record AuthorizationQuery(string TenantId, string? CardId, string? Status, int Limit, string? Before, string? Receipt = null);

internal enum CardWriteOutcome
{
    Written,
    NumberExists,
    IdempotencyKeyExists,
    Moved,
}

/// <summary>The values of the card-transactions list's <c>receipt</c> filter.</summary>
public static class AuthorizationReceipts
{
    /// <summary>Approved and not reversed or expired (open or captured), and no receipt uploaded for it: what finance chases.</summary>
    public const string Missing = "missing";

    public static IReadOnlyList<string> Filters { get; } = [Missing, "processing", "verified", "mismatch", "unreadable", "failed"];
}

/// <summary>Cards and their authorization decisions. Decisions are written by the group commit; cards here.</summary>
public sealed class CardStore(NpgsqlDataSource dataSource, CurrencyCatalog currencies)
{
    private const string CardColumns = """
        c.id, c.tenant_id, c.wallet_id, w.currency, w.scale, c.cardholder_name, c.last4, c.status, c.spending_controls::text,
        c.controls_version, c.metadata::text, c.created_at, c.updated_at
        """;

    private const string SelectCard = $"SELECT {CardColumns} FROM cards c JOIN wallets w ON w.id = c.wallet_id WHERE c.id = @id";

    // What each approved authorization counts against the limits: its hold's amount while open, then what it captured.
    private const string SelectSpends = """
        SELECT a.id, a.created_at, CASE WHEN h.status = 'open' THEN h.amount ELSE h.captured END, a.created_at >= @since
        FROM card_authorizations a JOIN holds h ON h.id = a.hold_id
        WHERE a.card_id = @id AND a.approved
        """;

    private const string SelectRecentAttempts = "SELECT created_at FROM card_authorizations WHERE card_id = @id AND created_at > @recent ORDER BY created_at";

    private const string InsertCard = """
        INSERT INTO cards (id, tenant_id, wallet_id, cardholder_name, last4, number_hash, status, spending_controls, controls_version, metadata, created_at, updated_at)
        VALUES (@id, @tenant, @wallet, @name, @last4, @hash, 'active', @controls::jsonb, 1, @metadata::jsonb, @created, @created)
        ON CONFLICT (tenant_id, number_hash) DO NOTHING
        """;

    private const string UpdateCard = """
        UPDATE cards SET cardholder_name = @name, status = @status, spending_controls = @controls::jsonb, controls_version = @version,
                         metadata = @metadata::jsonb, updated_at = @updated
        WHERE id = @id AND updated_at = @expected
        """;

    private const string AuthorizationColumns = """
        a.id, a.card_id, a.wallet_id, a.approved, a.amount, a.currency, w.scale, a.merchant_name, a.merchant_category, a.merchant_country,
        a.description, a.fraud_score, a.fraud_reasons::text, a.review, a.decline_code, a.decline_detail, a.hold_id, a.controls_version,
        a.created_at, h.amount, h.captured, h.status, a.merchant_name_original, r.id, r.status
        """;

    // An authorization's receipt: its verified one, else its latest.
    private const string AuthorizationFrom = """
        FROM card_authorizations a JOIN wallets w ON w.id = a.wallet_id LEFT JOIN holds h ON h.id = a.hold_id
        LEFT JOIN LATERAL (
            SELECT r.id, r.status FROM receipts r WHERE r.tenant_id = a.tenant_id AND r.authorization_id = a.id
            ORDER BY r.status = 'verified' DESC, r.id DESC LIMIT 1) r ON true
        """;

    internal async Task<CardState> ReadStateAsync(string cardId, DateTimeOffset now, TimeZoneInfo zone, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command(SelectCard, ("id", cardId)));
        batch.BatchCommands.Add(Command(SelectSpends, ("id", cardId), ("since", SpendingRules.EarliestWindow(now, zone))));
        batch.BatchCommands.Add(Command(SelectRecentAttempts, ("id", cardId), ("recent", now - TimeSpan.FromMinutes(1))));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return CardState.Missing(cardId);
        }

        var card = ReadCard(reader);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var spent = reader.GetInt64(2);
            card.AllTimeSpent += spent;
            if (reader.GetBoolean(3))
            {
                card.Spends[reader.GetString(0)] = new Spend(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), spent);
            }
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            card.RecentAttempts.Enqueue(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return card;
    }

    /// <summary>What each approved authorization of the card made since <paramref name="since"/> counts now.</summary>
    internal async Task<IReadOnlyList<(string Id, long Counted)>> CountedSpendsAsync(string cardId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectSpends + " AND a.created_at >= @since");
        command.Parameters.AddWithValue("id", cardId);
        command.Parameters.AddWithValue("since", since);
        var spends = new List<(string, long)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            spends.Add((reader.GetString(0), reader.GetInt64(2)));
        }

        return spends;
    }

    /// <summary>Inserts a new card (and the key) in one transaction, unless the tenant has the number already.</summary>
    internal Task<CardWriteOutcome> InsertAsync(
        CardState card, string numberHash, IdempotencyRequest? idempotency, StoredAnswer answer, CancellationToken cancellationToken) =>
        WriteAsync(card.TenantId, idempotency, answer, CardWriteOutcome.NumberExists, InsertCard,
            [("id", card.Id), ("tenant", card.TenantId), ("wallet", card.WalletId), ("name", card.CardholderName), ("last4", card.Last4),
             ("hash", numberHash), ("controls", Controls(card)), ("metadata", card.Metadata?.GetRawText()), ("created", card.CreatedAt)],
            audit: null, cancellationToken);

    /// <summary>Writes the card as <paramref name="changed"/> says, if the row is still as <paramref name="expectedUpdatedAt"/> left it.</summary>
    internal Task<CardWriteOutcome> UpdateAsync(
        CardState changed, DateTimeOffset expectedUpdatedAt, IdempotencyRequest? idempotency, StoredAnswer answer, AuditEvent? audit,
        CancellationToken cancellationToken) =>
        WriteAsync(changed.TenantId, idempotency, answer, CardWriteOutcome.Moved, UpdateCard,
            [("id", changed.Id), ("name", changed.CardholderName), ("status", changed.Status), ("controls", Controls(changed)),
             ("version", changed.ControlsVersion), ("metadata", changed.Metadata?.GetRawText()), ("updated", changed.UpdatedAt), ("expected", expectedUpdatedAt)],
            audit, cancellationToken);

    /// <summary>
    /// One card row written with the Idempotency-Key (and the audit row, when the change has one) in
    /// one transaction; <paramref name="missed"/> when the statement touched no row, and then
    /// nothing, the key included, is kept.
    /// </summary>
    private async Task<CardWriteOutcome> WriteAsync(
        string tenantId, IdempotencyRequest? idempotency, StoredAnswer answer, CardWriteOutcome missed, string sql,
        (string Name, object? Value)[] parameters, AuditEvent? audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (idempotency is not null && !await IdempotencyStore.TryInsertAsync(connection, tenantId, idempotency, answer, cancellationToken))
        {
            return CardWriteOutcome.IdempotencyKeyExists;
        }

        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is null or string
                ? new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = value ?? DBNull.Value }
                : new NpgsqlParameter(name, value));
        }

        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            return missed;
        }

        await AuditLog.AppendAsync(connection, transaction, audit, cancellationToken);

        await transaction.CommitAsync(cancellationToken);
        return CardWriteOutcome.Written;
    }

    public async Task<Page<CardView>> ListAsync(CardQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {CardColumns} FROM cards c JOIN wallets w ON w.id = c.wallet_id WHERE c.tenant_id = @tenant");
        await using var command = dataSource.CreateCommand();
        command.Parameters.AddWithValue("tenant", query.TenantId);
        Filter(sql, command, "c.status", "status", query.Status);
        Filter(sql, command, "c.wallet_id", "wallet", query.WalletId);
        Filter(sql, command, "c.id >", "after", query.After, op: "");
        sql.Append(" ORDER BY c.id LIMIT @limit");
        command.Parameters.AddWithValue("limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        var cards = new List<CardView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            cards.Add(ReadCard(reader).ToView());
        }

        return Page<CardView>.From(cards, query.Limit, c => c.Id);
    }

    public async Task<AuthorizationView?> GetAuthorizationAsync(string tenantId, string authorizationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {AuthorizationColumns} {AuthorizationFrom} WHERE a.tenant_id = @tenant AND a.id = @id");
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", authorizationId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadAuthorization(reader) : null;
    }

    /// <summary>The card whose grain owns the authorization: where the API sends a command on it. Null when the tenant has none by that id.</summary>
    public async Task<string?> CardOfAuthorizationAsync(string tenantId, string authorizationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT card_id FROM card_authorizations WHERE tenant_id = @tenant AND id = @id");
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("id", authorizationId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Authorization decisions, newest first, of one card or of the whole tenant.</summary>
    public async Task<Page<AuthorizationView>> ListAuthorizationsAsync(AuthorizationQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {AuthorizationColumns} {AuthorizationFrom} WHERE a.tenant_id = @tenant");
        await using var command = dataSource.CreateCommand();
        command.Parameters.AddWithValue("tenant", query.TenantId);
        Filter(sql, command, "a.card_id", "card", query.CardId);
        Filter(sql, command, "a.id <", "before", query.Before, op: "");
        if (query.Status is { } status)
        {
            sql.Append(status switch
            {
                AuthorizationStatuses.Declined => " AND NOT a.approved",
                AuthorizationStatuses.Approved => " AND h.status = 'open'",
                AuthorizationStatuses.Captured => " AND h.status = 'captured'",
                AuthorizationStatuses.Expired => " AND h.status = 'expired'",
                _ => " AND h.status = 'voided'",
            });
        }

        if (query.Receipt is { } receipt)
        {
            if (receipt == AuthorizationReceipts.Missing)
            {
                sql.Append(" AND a.approved AND h.status IN ('open', 'captured') AND r.id IS NULL");
            }
            else
            {
                Filter(sql, command, "r.status", "receipt", receipt);
            }
        }

        sql.Append(" ORDER BY a.id DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", query.Limit + 1);
        command.CommandText = sql.ToString();
        var authorizations = new List<AuthorizationView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            authorizations.Add(ReadAuthorization(reader));
        }

        return Page<AuthorizationView>.From(authorizations, query.Limit, a => a.Id);
    }

    private CardState ReadCard(NpgsqlDataReader reader)
    {
        var code = reader.GetString(3);
        var scale = reader.GetInt16(4);
        var currency = currencies.TryGet(code, out var known) && known.Scale == scale ? known : new Currency(code, scale);
        var controls = JsonSerializer.Deserialize<SpendingControlsView>(reader.GetString(8), WalletJson.Options)!;
        return new CardState
        {
            Exists = true,
            Id = reader.GetString(0),
            TenantId = reader.GetString(1),
            WalletId = reader.GetString(2),
            Currency = currency,
            CardholderName = reader.GetString(5),
            Last4 = reader.GetString(6),
            Status = reader.GetString(7),
            Limits = SpendingRules.Parse(SpendingRules.Controls(controls), currency).Limits ?? CardLimits.None,
            ControlsVersion = reader.GetInt32(9),
            Metadata = reader.IsDBNull(10) ? null : JsonDocument.Parse(reader.GetString(10)).RootElement.Clone(),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(11),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(12),
        };
    }

    private static AuthorizationView ReadAuthorization(NpgsqlDataReader reader)
    {
        var scale = reader.GetInt16(6);
        var approved = reader.GetBoolean(3);
        var amount = approved ? reader.GetInt64(19) : reader.GetInt64(4);
        var captured = approved ? reader.GetInt64(20) : 0;
        return new AuthorizationView(
            reader.GetString(0),
            reader.GetString(1),
            reader.GetString(2),
            approved ? AuthorizationStatuses.Of(reader.GetString(21)) : AuthorizationStatuses.Declined,
            approved,
            Amount.Format(amount, scale),
            Amount.Format(captured, scale),
            reader.GetString(5),
            reader.GetString(7),
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.IsDBNull(9) ? null : reader.GetString(9),
            reader.IsDBNull(10) ? null : reader.GetString(10),
            new FraudView(FraudView.Normalize(reader.GetDecimal(11)), JsonSerializer.Deserialize<string[]>(reader.GetString(12))!),
            reader.GetBoolean(13),
            approved ? null : new DeclineView(reader.GetString(14), reader.GetString(15)),
            reader.IsDBNull(16) ? null : reader.GetString(16),
            reader.GetInt32(17),
            reader.GetFieldValue<DateTimeOffset>(18),
            reader.IsDBNull(22) ? null : reader.GetString(22),
            reader.IsDBNull(23) ? null : new AuthorizationReceipt(reader.GetString(23), reader.GetString(24), reader.GetString(24) == "verified"));
    }

    private static string Controls(CardState card) => JsonSerializer.Serialize(SpendingRules.View(card.Limits, card.Currency), WalletJson.Options);

    private static void Filter(StringBuilder sql, NpgsqlCommand command, string column, string parameter, string? value, string op = " =")
    {
        if (value is null)
        {
            return;
        }

        sql.Append(" AND ").Append(column).Append(op).Append(" @").Append(parameter);
        command.Parameters.AddWithValue(parameter, value);
    }
}
