using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Compliance;

/// <summary>The compliance jobs of a tenant (rescreenings): started, then completed or failed.</summary>
public sealed class ComplianceJobStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, kind, trigger, status, screened, flagged, error, started_at, finished_at";

    public async Task<ComplianceJobView> StartAsync(string tenantId, string kind, string trigger, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var job = new ComplianceJobView("job_" + Guid.CreateVersion7().ToString("N"), kind, trigger, ComplianceJobs.Running, 0, 0, null, now, null);
        await using var command = dataSource.CreateCommand(
            "INSERT INTO compliance_jobs (id, tenant_id, kind, trigger, status, started_at) VALUES (@id, @tenant, @kind, @trigger, @status, @now)");
        command.Parameters.AddWithValue("id", job.Id);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("trigger", trigger);
        command.Parameters.AddWithValue("status", job.Status);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return job;
    }

    /// <summary>Ends a running job: completed with its counts, or failed (<paramref name="error"/>).</summary>
    public async Task EndAsync(string jobId, int screened, int flagged, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE compliance_jobs SET status = @status, screened = @screened, flagged = @flagged, error = @error, finished_at = @now
            WHERE id = @id AND status = 'running'
            """);
        command.Parameters.AddWithValue("id", jobId);
        command.Parameters.AddWithValue("status", error is null ? ComplianceJobs.Completed : ComplianceJobs.Failed);
        command.Parameters.AddWithValue("screened", screened);
        command.Parameters.AddWithValue("flagged", flagged);
        command.Parameters.Add(new NpgsqlParameter<string?>("error", NpgsqlDbType.Text) { TypedValue = error });
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Fails the tenant's jobs left running by an activation that is gone (its silo stopped): only one runs them at a time.</summary>
    public async Task FailInterruptedAsync(string tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE compliance_jobs SET status = 'failed', error = 'interrupted: the silo running it stopped', finished_at = @now
            WHERE tenant_id = @tenant AND status = 'running'
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ComplianceJobView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM compliance_jobs WHERE id = @id AND tenant_id = @tenant");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>The tenant's jobs, newest first.</summary>
    public async Task<Page<ComplianceJobView>> ListAsync(string tenantId, int limit, string? before, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM compliance_jobs WHERE tenant_id = @tenant AND (@before::text IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("before", NpgsqlDbType.Text) { TypedValue = before });
        command.Parameters.AddWithValue("limit", limit + 1);
        return Page<ComplianceJobView>.From(await command.ReadRowsAsync(Read, cancellationToken), limit, j => j.Id);
    }

    private static ComplianceJobView Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));
}
