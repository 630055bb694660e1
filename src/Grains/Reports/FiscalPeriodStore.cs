using System.Globalization;
using System.Text.Json;
using Npgsql;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Reports;

/// <summary>A closed fiscal period: the month, its bounds, the ledger's sequence number at its end, and who closed it when.</summary>
public sealed record FiscalPeriodView(string Period, DateTimeOffset StartsAt, DateTimeOffset EndsAt, long LedgerSeq, string ClosedBy, DateTimeOffset ClosedAt);

/// <summary>A fiscal period is a calendar month in UTC, named <c>yyyy-MM</c>: from its first instant to the next month's.</summary>
public static class FiscalPeriods
{
    public const string TrialBalance = "trial_balance";
    public const string BalanceSheet = "balance_sheet";
    public const string IncomeStatement = "income_statement";
    public const string CashFlow = "cash_flow";

    public static bool TryParse(string text, out DateTimeOffset start, out DateTimeOffset end)
    {
        var parsed = DateTime.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var month)
            && month.Year >= 2000;
        start = parsed ? new DateTimeOffset(month.Year, month.Month, 1, 0, 0, 0, TimeSpan.Zero) : default;
        end = parsed ? start.AddMonths(1) : default;
        return parsed;
    }
}

/// <summary>The tenants' closed fiscal periods and the reports kept with each.</summary>
public sealed class FiscalPeriodStore(NpgsqlDataSource dataSource)
{
    /// <summary>Closes the period with its reports (by kind, as JSON), audited, in one transaction; false when it was closed already.</summary>
    public async Task<bool> CloseAsync(
        string tenantId, FiscalPeriodView period, IReadOnlyDictionary<string, JsonElement> reports, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO fiscal_periods (tenant_id, period, starts_at, ends_at, ledger_seq, reports, closed_by, closed_at)
            VALUES (@tenant, @period, @start, @end, @seq, @reports::jsonb, @actor, @at)
            ON CONFLICT (tenant_id, period) DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("tenant", tenantId);
            insert.Parameters.AddWithValue("period", period.Period);
            insert.Parameters.AddWithValue("start", period.StartsAt);
            insert.Parameters.AddWithValue("end", period.EndsAt);
            insert.Parameters.AddWithValue("seq", period.LedgerSeq);
            insert.Parameters.AddWithValue("reports", JsonSerializer.Serialize(reports, WalletJson.Options));
            insert.Parameters.AddWithValue("actor", period.ClosedBy);
            insert.Parameters.AddWithValue("at", period.ClosedAt);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await AuditLog.AppendAsync(connection, transaction, tenantId, period.ClosedAt, period.ClosedBy, AuditActions.PeriodClosed, period.Period,
            new { ends_at = period.EndsAt, ledger_seq = period.LedgerSeq }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The tenant's closed periods, newest first.</summary>
    public async Task<IReadOnlyList<FiscalPeriodView>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT period, starts_at, ends_at, ledger_seq, closed_by, closed_at FROM fiscal_periods WHERE tenant_id = @tenant ORDER BY period DESC
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        return await command.ReadRowsAsync(
            reader => new FiscalPeriodView(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.GetInt64(3), reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5)),
            cancellationToken);
    }

    /// <summary>The report of <paramref name="kind"/> kept when the period was closed; null when it is not closed.</summary>
    public async Task<T?> ReportAsync<T>(string tenantId, string period, string kind, CancellationToken cancellationToken)
        where T : class
    {
        await using var command = dataSource.CreateCommand("SELECT (reports -> @kind)::text FROM fiscal_periods WHERE tenant_id = @tenant AND period = @period");
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("period", period);
        command.Parameters.AddWithValue("kind", kind);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? JsonSerializer.Deserialize<T>(json, WalletJson.Options) : null;
    }
}
