using Npgsql;

namespace Wallet.Grains.Storage;

/// <summary>
/// What ends a credential's access, told to every process that keeps identities in memory: an API
/// key revoked, a dashboard session closed, a person's roles changed. The notice is PostgreSQL's
/// <c>NOTIFY</c> on <see cref="Channel"/>, sent in the transaction that makes the change, so it is
/// heard once (and only if) that change is committed. Its text names what ended, as
/// <see cref="ApiKey"/>, <see cref="Session"/> and <see cref="User"/> write it.
/// </summary>
public static class CredentialRevocations
{
    public const string Channel = "wallet_credentials_revoked";

    /// <summary>An API key, by its id (<c>ak_…</c>).</summary>
    public static string ApiKey(string keyId) => "api_key:" + keyId;

    /// <summary>A dashboard session, by its token's hash.</summary>
    public static string Session(string tokenHash) => "session:" + tokenHash;

    /// <summary>Whatever a person opened, by their id.</summary>
    public static string User(string userId) => "user:" + userId;

    public static async Task NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string revoked, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_notify(@channel, @revoked)", connection, transaction);
        command.Parameters.AddWithValue("channel", Channel);
        command.Parameters.AddWithValue("revoked", revoked);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
