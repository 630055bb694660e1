using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Cards;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Auth;

/// <summary>One row of the audit trail: who (<see cref="Actor"/>) did what (<see cref="Action"/>) to what, and when.</summary>
public sealed record AuditEntry(long Seq, DateTimeOffset At, string Actor, string Action, string? Target, JsonElement Details, string Hash);

/// <summary>
/// An action to record in the transaction of the change it describes: who (<see cref="Actor"/>) did
/// <see cref="Action"/> to <see cref="Target"/>, with facts in <see cref="Details"/> (never a secret).
/// </summary>
public sealed record AuditEvent(string TenantId, DateTimeOffset At, string Actor, string Action, string? Target, object? Details = null);

/// <summary>The operator actions the audit trail records, by name.</summary>
public static class AuditActions
{
    public const string BudgetSet = "budget.set";
    public const string FraudRulesReplaced = "fraud_rules.replaced";
    public const string ReconciliationItemResolved = "reconciliation.item_resolved";
    public const string RolesChanged = "user.roles_changed";
    public const string ScreeningResolved = "screening.resolved";
    public const string DataRequested = "data_request.made";
    public const string PeriodClosed = "period.closed";
    public const string AccountCreated = "account.created";

    public static string WalletStatus(WalletStatusChange change) => change switch
    {
        WalletStatusChange.Freeze => "wallet.frozen",
        WalletStatusChange.Unfreeze => "wallet.unfrozen",
        _ => "wallet.closed",
    };

    public static string CardStatus(CardStatusChange change) => change switch
    {
        CardStatusChange.Freeze => "card.frozen",
        CardStatusChange.Unfreeze => "card.unfrozen",
        _ => "card.cancelled",
    };
}

/// <summary>What a check of a tenant's audit chain found: every row sound, or the first one that is not and why.</summary>
public sealed record AuditVerification(bool Ok, long RowsChecked, long? BrokenSeq, string? Problem);

/// <summary>What an audit listing keeps: rows of one actor or action, from and to a time.</summary>
public sealed record AuditQuery(string TenantId, string? Actor, string? Action, DateTimeOffset? From, DateTimeOffset? To, int Limit, long? Before);

/// <summary>
/// The audit trail: appended in the caller's transaction (so an action and its row commit or vanish
/// together), each tenant's rows a SHA-256 chain that a changed, removed or reordered row breaks.
/// Details never hold a secret, a token, a password or a card number: callers pass ids and facts.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource)
{
    public const string Anonymous = "anonymous";

    /// <summary>The actor of what the ledger did on its own (a scheduled rescreening).</summary>
    public const string Ledger = "ledger";

    private const string Columns = "seq, at, actor, action, target, details, hash";

    private const string SelectPage = $"""
        SELECT {Columns} FROM audit_log
        WHERE tenant_id = @tenant AND (@actor::text IS NULL OR actor = @actor) AND (@action::text IS NULL OR action = @action)
          AND (@from::timestamptz IS NULL OR at >= @from) AND (@to::timestamptz IS NULL OR at < @to) AND (@before::bigint IS NULL OR seq < @before)
        ORDER BY seq DESC LIMIT @limit
        """;

    private const string SelectChain = """
        SELECT seq, prev_hash, hash,
               audit_row_hash(prev_hash, tenant_id, seq, at, actor, action, target, details) AS computed,
               lag(hash, 1, repeat('0', 64)) OVER (ORDER BY seq) AS expected_prev,
               lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS prev_seq
        FROM audit_log WHERE tenant_id = @tenant ORDER BY seq
        """;

    /// <summary>Appends a row to the tenant's chain inside <paramref name="transaction"/>.</summary>
    public static async Task AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string tenantId, DateTimeOffset at, string actor, string action, string? target,
        object? details, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT audit_append(@tenant, @at, @actor, @action, @target, @details::jsonb)", connection, transaction);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.Add(new NpgsqlParameter<string?>("target", NpgsqlDbType.Text) { TypedValue = target });
        command.Parameters.AddWithValue("details", JsonSerializer.Serialize(details ?? new { }, WalletJson.Options));
        await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Appends <paramref name="audit"/> to its tenant's chain inside <paramref name="transaction"/>; nothing when there is none (a change no one made by hand).</summary>
    public static Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, AuditEvent? audit, CancellationToken cancellationToken) =>
        audit is null
            ? Task.CompletedTask
            : AppendAsync(connection, transaction, audit.TenantId, audit.At, audit.Actor, audit.Action, audit.Target, audit.Details, cancellationToken);

    /// <summary>Appends a row in a transaction of its own: for an event that is the only thing written (a failed sign-in).</summary>
    public async Task AppendAsync(string tenantId, DateTimeOffset at, string actor, string action, string? target, object? details, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AppendAsync(connection, null, tenantId, at, actor, action, target, details, cancellationToken);
    }

    /// <summary>The tenant's rows, newest first.</summary>
    public async Task<Page<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SelectPage);
        command.Parameters.AddWithValue("tenant", query.TenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("actor", NpgsqlDbType.Text) { TypedValue = query.Actor });
        command.Parameters.Add(new NpgsqlParameter<string?>("action", NpgsqlDbType.Text) { TypedValue = query.Action });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?>("from", NpgsqlDbType.TimestampTz) { TypedValue = query.From });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?>("to", NpgsqlDbType.TimestampTz) { TypedValue = query.To });
        command.Parameters.Add(new NpgsqlParameter<long?>("before", NpgsqlDbType.Bigint) { TypedValue = query.Before });
        command.Parameters.AddWithValue("limit", query.Limit + 1);
        var rows = new List<AuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new AuditEntry(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), JsonDocument.Parse(reader.GetString(5)).RootElement.Clone(), reader.GetString(6)));
        }

        return Page<AuditEntry>.From(rows, query.Limit, r => r.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Walks the tenant's chain from its first row: each row's hash must be that of its own fields and
    /// the row before, its numbers must follow on, and the last must be the head the appends keep.
    /// </summary>
    public async Task<AuditVerification> VerifyAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        long checkedRows = 0, lastSeq = 0;
        var lastHash = new string('0', 64);
        await using (var command = new NpgsqlCommand(SelectChain, connection, transaction))
        {
            command.Parameters.AddWithValue("tenant", tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var (seq, prevHash, hash, computed, expectedPrev, prevSeq) =
                    (reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5));
                var problem = seq != prevSeq + 1 ? $"row {prevSeq + 1} is missing"
                    : prevHash != expectedPrev ? "its link to the row before does not match that row"
                    : hash != computed ? "its content does not match its hash"
                    : null;
                if (problem is not null)
                {
                    return new AuditVerification(false, checkedRows, seq != prevSeq + 1 ? prevSeq + 1 : seq, problem);
                }

                checkedRows++;
                (lastSeq, lastHash) = (seq, hash);
            }
        }

        await using (var head = new NpgsqlCommand("SELECT seq, hash FROM audit_heads WHERE tenant_id = @tenant", connection, transaction))
        {
            head.Parameters.AddWithValue("tenant", tenantId);
            await using var reader = await head.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken) && (reader.GetInt64(0) != lastSeq || reader.GetString(1) != lastHash))
            {
                return new AuditVerification(false, checkedRows, lastSeq + 1, $"the chain ends at row {lastSeq}, but {reader.GetInt64(0)} rows were appended");
            }
        }

        return new AuditVerification(true, checkedRows, null, null);
    }
}
