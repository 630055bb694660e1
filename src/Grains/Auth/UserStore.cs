using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Auth;

/// <summary>The roles a person (or an API key) may hold.</summary>
public static class UserRoles
{
    public const string Operator = "operator";
    public const string Finance = "finance";
    public const string Support = "support";
    public const string Client = "client";

    public static IReadOnlyList<string> All { get; } = [Operator, Finance, Support, Client];
}

/// <summary>A person as the API shows them.</summary>
public sealed record UserView(string Id, string TenantId, string Email, IReadOnlyList<string> Roles, string Status, DateTimeOffset CreatedAt)
{
    public const string Invited = "invited";
    public const string Active = "active";
}

/// <summary>What signing in needs to know of a person: with <see cref="MfaSecret"/> (sealed), a second factor is due.</summary>
public sealed record UserCredentials(UserView User, string? PasswordHash, int FailedLogins, DateTimeOffset? LockedUntil, string? MfaSecret);

/// <summary>A person's second factor: the sealed secret in use, one being enrolled, and the last time step a code was taken for.</summary>
public sealed record UserMfa(string? Secret, string? PendingSecret, long? LastStep);

public enum InviteOutcome
{
    Invited,
    EmailTaken,
}

public enum RefreshOutcome
{
    Renewed,
    Invalid,
    Reused,
}

/// <summary>
/// People and their sign-in state: invitations, password hashes (hashed by the caller), failed
/// attempts and lockouts, and refresh tokens (kept as hashes, rotated on every use). Every change
/// that matters to security is appended to the audit trail in its own transaction.
/// </summary>
public sealed class UserStore(NpgsqlDataSource dataSource)
{
    private const string UserColumns = "id, tenant_id, email, roles, status, created_at";

    /// <summary>A random token (invitation, refresh): 32 bytes, shown once, kept only as its SHA-256.</summary>
    public static string NewToken(string prefix) => prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static string NewId() => "usr_" + Guid.CreateVersion7().ToString("N");

    public static string Actor(string userId) => "user:" + userId;

    /// <summary>Invites a person: an invited user with an invitation (its hash kept) valid until <paramref name="expiresAt"/>.</summary>
    public async Task<(InviteOutcome Outcome, UserView? User)> InviteAsync(
        string tenantId, string email, IReadOnlyList<string> roles, string invitation, DateTimeOffset expiresAt, DateTimeOffset now, string actor,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO users (id, tenant_id, email, roles, status, invitation_hash, invitation_expires_at, created_at, updated_at)
            VALUES (@id, @tenant, @email, @roles, 'invited', @invitation, @expires, @now, @now)
            ON CONFLICT (email) DO NOTHING
            RETURNING {UserColumns}
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", NewId());
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.AddWithValue("email", email);
        insert.Parameters.AddWithValue("roles", roles.ToArray());
        insert.Parameters.AddWithValue("invitation", Hash(invitation));
        insert.Parameters.AddWithValue("expires", expiresAt);
        insert.Parameters.AddWithValue("now", now);
        var user = (await ReadUsersAsync(insert, cancellationToken)).SingleOrDefault();
        if (user is null)
        {
            return (InviteOutcome.EmailTaken, null);
        }

        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, "user.invited", user.Id, new { roles }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (InviteOutcome.Invited, user);
    }

    /// <summary>
    /// Gives a person of the tenant <paramref name="roles"/>, recorded in its audit trail with the
    /// roles before and after; null when the tenant has no such person. Their access tokens carry the
    /// roles they were issued with; the next refresh carries these.
    /// </summary>
    public async Task<UserView?> ChangeRolesAsync(
        string tenantId, string id, IReadOnlyList<string> roles, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string[] before;
        await using (var select = new NpgsqlCommand("SELECT roles FROM users WHERE id = @id AND tenant_id = @tenant FOR UPDATE", connection, transaction))
        {
            select.Parameters.AddWithValue("id", id);
            select.Parameters.AddWithValue("tenant", tenantId);
            if (await select.ExecuteScalarAsync(cancellationToken) is not string[] found)
            {
                return null;
            }

            before = found;
        }

        await using var update = new NpgsqlCommand($"UPDATE users SET roles = @roles, updated_at = @now WHERE id = @id RETURNING {UserColumns}", connection, transaction);
        update.Parameters.AddWithValue("id", id);
        update.Parameters.AddWithValue("roles", roles.ToArray());
        update.Parameters.AddWithValue("now", now);
        var user = (await ReadUsersAsync(update, cancellationToken)).Single();
        await AuditLog.AppendAsync(connection, transaction, tenantId, now, actor, AuditActions.RolesChanged, id, new { from = before, to = roles }, cancellationToken);
        // A dashboard session of someone who is no longer an operator ends wherever it is cached.
        await CredentialRevocations.NotifyAsync(connection, transaction, CredentialRevocations.User(id), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return user;
    }

    /// <summary>
    /// Self-registration into <paramref name="tenantId"/> as a client: an active user at once. Nothing
    /// (and no sign of it) when the email has an account already.
    /// </summary>
    public async Task<UserView?> RegisterAsync(string tenantId, string email, string passwordHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO users (id, tenant_id, email, roles, status, password_hash, created_at, updated_at)
            VALUES (@id, @tenant, @email, @roles, 'active', @hash, @now, @now)
            ON CONFLICT (email) DO NOTHING
            RETURNING {UserColumns}
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", NewId());
        insert.Parameters.AddWithValue("tenant", tenantId);
        insert.Parameters.AddWithValue("email", email);
        insert.Parameters.AddWithValue("roles", new[] { UserRoles.Client });
        insert.Parameters.AddWithValue("hash", passwordHash);
        insert.Parameters.AddWithValue("now", now);
        var user = (await ReadUsersAsync(insert, cancellationToken)).SingleOrDefault();
        if (user is not null)
        {
            await AuditLog.AppendAsync(connection, transaction, tenantId, now, Actor(user.Id), "user.registered", user.Id, null, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return user;
    }

    /// <summary>Sets the password of the invited person whose invitation this is, if it is still valid; the invitation is spent.</summary>
    public async Task<UserView?> AcceptInvitationAsync(string invitation, string passwordHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var update = new NpgsqlCommand($"""
            UPDATE users SET status = 'active', password_hash = @hash, invitation_hash = NULL, invitation_expires_at = NULL, updated_at = @now
            WHERE invitation_hash = @invitation AND status = 'invited' AND invitation_expires_at > @now
            RETURNING {UserColumns}
            """, connection, transaction);
        update.Parameters.AddWithValue("invitation", Hash(invitation));
        update.Parameters.AddWithValue("hash", passwordHash);
        update.Parameters.AddWithValue("now", now);
        var user = (await ReadUsersAsync(update, cancellationToken)).SingleOrDefault();
        if (user is null)
        {
            return null;
        }

        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, Actor(user.Id), "user.activated", user.Id, null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return user;
    }

    public async Task<UserCredentials?> FindCredentialsAsync(string email, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {UserColumns}, {CredentialColumns} FROM users WHERE email = @email");
        command.Parameters.AddWithValue("email", email);
        return await ReadCredentialsAsync(command, cancellationToken);
    }

    /// <summary>The same for a person known by id (between a password and its second factor).</summary>
    public async Task<UserCredentials?> FindCredentialsByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {UserColumns}, {CredentialColumns} FROM users WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        return await ReadCredentialsAsync(command, cancellationToken);
    }

    private const string CredentialColumns = "password_hash, failed_logins, locked_until, mfa_secret";

    private static async Task<UserCredentials?> ReadCredentialsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new UserCredentials(ReadUser(reader), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.IsDBNull(9) ? null : reader.GetString(9))
            : null;
    }

    public async Task<UserView?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {UserColumns} FROM users WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        return (await ReadUsersAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The tenant's people, newest first.</summary>
    public async Task<Page<UserView>> ListAsync(string tenantId, int limit, string? after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {UserColumns} FROM users WHERE tenant_id = @tenant AND (@after::text IS NULL OR id < @after) ORDER BY id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.Add(new NpgsqlParameter<string?>("after", NpgsqlDbType.Text) { TypedValue = after });
        command.Parameters.AddWithValue("limit", limit + 1);
        return Page<UserView>.From(await ReadUsersAsync(command, cancellationToken), limit, u => u.Id);
    }

    /// <summary>
    /// Counts a failed sign-in; the one that reaches <paramref name="failuresMax"/> locks the account
    /// until <paramref name="lockedUntil"/> (and starts the count again). True when this locked it.
    /// </summary>
    public async Task<bool> RecordFailureAsync(UserView user, int failuresMax, DateTimeOffset lockedUntil, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var update = new NpgsqlCommand("""
            UPDATE users SET
                failed_logins = CASE WHEN failed_logins + 1 >= @max THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= @max THEN @until ELSE locked_until END,
                updated_at = @now
            WHERE id = @id
            RETURNING failed_logins = 0
            """, connection, transaction);
        update.Parameters.AddWithValue("id", user.Id);
        update.Parameters.AddWithValue("max", failuresMax);
        update.Parameters.AddWithValue("until", lockedUntil);
        update.Parameters.AddWithValue("now", now);
        var locked = (bool)(await update.ExecuteScalarAsync(cancellationToken))!;
        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, AuditLog.Anonymous, "auth.login_failed", user.Id, null, cancellationToken);
        if (locked)
        {
            await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, AuditLog.Anonymous, "auth.locked_out", user.Id,
                new { until = lockedUntil }, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return locked;
    }

    /// <summary>A sign-in that succeeded: the failure count starts again, and a refresh token family begins.</summary>
    public async Task SignedInAsync(UserView user, bool multiFactor, string refreshToken, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand("UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = @now WHERE id = @id", connection, transaction))
        {
            update.Parameters.AddWithValue("id", user.Id);
            update.Parameters.AddWithValue("now", now);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        var family = "rtf_" + Guid.CreateVersion7().ToString("N");
        await InsertRefreshAsync(connection, transaction, user.Id, family, multiFactor, refreshToken, expiresAt, now, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, Actor(user.Id), "auth.login", user.Id, new { family, multi_factor = multiFactor },
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Spends a refresh token for <paramref name="next"/>, of the same family. A token used before
    /// revokes its whole family (whoever holds the newer one is signed out too); an expired, revoked
    /// or unknown one renews nothing.
    /// </summary>
    public async Task<(RefreshOutcome Outcome, UserView? User, bool MultiFactor)> RefreshAsync(
        string token, string next, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string userId, family;
        bool used, revoked, expired, multiFactor;
        await using (var select = new NpgsqlCommand(
            "SELECT user_id, family_id, used_at IS NOT NULL, revoked_at IS NOT NULL, expires_at <= @now, multi_factor FROM refresh_tokens WHERE token_hash = @hash FOR UPDATE",
            connection, transaction))
        {
            select.Parameters.AddWithValue("hash", Hash(token));
            select.Parameters.AddWithValue("now", now);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (RefreshOutcome.Invalid, null, false);
            }

            (userId, family, used, revoked, expired, multiFactor) =
                (reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4), reader.GetBoolean(5));
        }

        var user = await FindAsync(userId, cancellationToken);
        if (user is null)
        {
            return (RefreshOutcome.Invalid, null, false);
        }

        if (used && !revoked)
        {
            await RevokeFamilyAsync(connection, transaction, family, now, cancellationToken);
            await AuditLog.AppendAsync(connection, transaction, user.TenantId, now, AuditLog.Anonymous, "auth.refresh_reused", user.Id, new { family }, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return (RefreshOutcome.Reused, null, false);
        }

        if (used || revoked || expired)
        {
            return (RefreshOutcome.Invalid, null, false);
        }

        await using (var spend = new NpgsqlCommand("UPDATE refresh_tokens SET used_at = @now WHERE token_hash = @hash", connection, transaction))
        {
            spend.Parameters.AddWithValue("hash", Hash(token));
            spend.Parameters.AddWithValue("now", now);
            await spend.ExecuteNonQueryAsync(cancellationToken);
        }

        await InsertRefreshAsync(connection, transaction, userId, family, multiFactor, next, expiresAt, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (RefreshOutcome.Renewed, user, multiFactor);
    }

    /// <summary>Signs out the family of <paramref name="token"/>: none of its refresh tokens renews again. False for a token not known.</summary>
    public async Task<bool> SignOutAsync(string token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var select = new NpgsqlCommand("""
            SELECT r.family_id, u.id, u.tenant_id FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = @hash
            """, connection, transaction);
        select.Parameters.AddWithValue("hash", Hash(token));
        string family, userId, tenantId;
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }

            (family, userId, tenantId) = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
        }

        await RevokeFamilyAsync(connection, transaction, family, now, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, tenantId, now, Actor(userId), "auth.logout", userId, new { family }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static async Task RevokeFamilyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string family, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var revoke = new NpgsqlCommand("UPDATE refresh_tokens SET revoked_at = @now WHERE family_id = @family AND revoked_at IS NULL", connection, transaction);
        revoke.Parameters.AddWithValue("family", family);
        revoke.Parameters.AddWithValue("now", now);
        await revoke.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertRefreshAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string userId, string family, bool multiFactor, string token, DateTimeOffset expiresAt,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO refresh_tokens (token_hash, user_id, family_id, multi_factor, expires_at, created_at) VALUES (@hash, @user, @family, @multi_factor, @expires, @now)
            """, connection, transaction);
        insert.Parameters.AddWithValue("multi_factor", multiFactor);
        insert.Parameters.AddWithValue("hash", Hash(token));
        insert.Parameters.AddWithValue("user", userId);
        insert.Parameters.AddWithValue("family", family);
        insert.Parameters.AddWithValue("expires", expiresAt);
        insert.Parameters.AddWithValue("now", now);
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    private static UserView ReadUser(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<string[]>(3), reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5));

    private static async Task<List<UserView>> ReadUsersAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var users = new List<UserView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            users.Add(ReadUser(reader));
        }

        return users;
    }
}
