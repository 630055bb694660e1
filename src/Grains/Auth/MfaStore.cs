using Npgsql;

namespace Wallet.Grains.Auth;

/// <summary>
/// People's second factors: the sealed secret in use and one being enrolled, the last time step a
/// code was taken for (so each code works once), and the recovery codes (kept as hashes). Enrolling,
/// enabling and spending a recovery code are appended to the audit trail in their own transaction.
/// </summary>
public sealed class MfaStore(NpgsqlDataSource dataSource)
{
    public async Task<UserMfa?> FindMfaAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT mfa_secret, mfa_pending_secret, mfa_last_step FROM users WHERE id = @id");
        command.Parameters.AddWithValue("id", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new UserMfa(reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2))
            : null;
    }

    /// <summary>Keeps a secret being enrolled (replacing any earlier one not confirmed); the one in use, if any, stays until this is confirmed.</summary>
    public async Task EnrollMfaAsync(UserView user, string sealedSecret, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand("UPDATE users SET mfa_pending_secret = @secret, updated_at = @now WHERE id = @id", connection, transaction))
        {
            update.Parameters.AddWithValue("id", user.Id);
            update.Parameters.AddWithValue("secret", sealedSecret);
            update.Parameters.AddWithValue("now", now);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, UserStore.Actor(user.Id), "auth.mfa_enrolling", user.Id, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The enrolled secret confirmed by a code of <paramref name="step"/>: it is the one in use from
    /// now, and <paramref name="recoveryHashes"/> replace any recovery codes before. False when the
    /// secret enrolled changed meanwhile.
    /// </summary>
    public async Task<bool> ConfirmMfaAsync(
        UserView user, string pendingSecret, long step, IReadOnlyList<string> recoveryHashes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand("""
            UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, mfa_last_step = @step, updated_at = @now
            WHERE id = @id AND mfa_pending_secret = @pending
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("id", user.Id);
            update.Parameters.AddWithValue("pending", pendingSecret);
            update.Parameters.AddWithValue("step", step);
            update.Parameters.AddWithValue("now", now);
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await using (var replace = new NpgsqlCommand("""
            DELETE FROM mfa_recovery_codes WHERE user_id = @id;
            INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT @id, unnest(@hashes);
            """, connection, transaction))
        {
            replace.Parameters.AddWithValue("id", user.Id);
            replace.Parameters.AddWithValue("hashes", recoveryHashes.ToArray());
            await replace.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, UserStore.Actor(user.Id), "auth.mfa_enabled", user.Id,
            new { recovery_codes = recoveryHashes.Count }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Takes a code's time step: true only for a step later than the last taken, so a code works once.</summary>
    public async Task<bool> TakeMfaStepAsync(string userId, long step, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE users SET mfa_last_step = @step WHERE id = @id AND mfa_secret IS NOT NULL AND (mfa_last_step IS NULL OR mfa_last_step < @step)");
        command.Parameters.AddWithValue("id", userId);
        command.Parameters.AddWithValue("step", step);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Spends a recovery code: true once per code.</summary>
    public async Task<bool> UseRecoveryCodeAsync(UserView user, string codeHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var spend = new NpgsqlCommand(
            "UPDATE mfa_recovery_codes SET used_at = @now WHERE user_id = @id AND code_hash = @hash AND used_at IS NULL", connection, transaction))
        {
            spend.Parameters.AddWithValue("id", user.Id);
            spend.Parameters.AddWithValue("hash", codeHash);
            spend.Parameters.AddWithValue("now", now);
            if (await spend.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, UserStore.Actor(user.Id), "auth.recovery_code_used", user.Id, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }
}
