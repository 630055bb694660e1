using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wallet.Grains.Storage;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Where this process's identity caches hear that a credential's access ended: from this process
/// at once (<see cref="Publish"/>, after its own change is committed), and from every process of
/// the cluster through <see cref="RevokedCredentialsListener"/>.
/// </summary>
public sealed class RevokedCredentials
{
    private ImmutableArray<Action<string?>> _caches = [];

    /// <summary>Makes <paramref name="cache"/> forget what each notice ends; returns it.</summary>
    public IdentityCache<TIdentity> Track<TIdentity>(IdentityCache<TIdentity> cache)
        where TIdentity : class
    {
        ImmutableInterlocked.Update(ref _caches, caches => caches.Add(cache.Forget));
        return cache;
    }

    /// <summary>A <see cref="CredentialRevocations"/> notice; null: some may have been missed, so every cache starts afresh.</summary>
    public void Publish(string? revoked)
    {
        foreach (var forget in _caches)
        {
            forget(revoked);
        }
    }
}

/// <summary>
/// Listens on <see cref="CredentialRevocations.Channel"/> on a connection of its own and passes
/// each notice to <see cref="RevokedCredentials"/>. While it is not listening (the database
/// restarting, unreachable) notices are lost, so every cache starts afresh whenever it begins
/// listening again; until then, the caches' own lifetime bounds how long a revoked credential works.
/// </summary>
public sealed partial class RevokedCredentialsListener(
    IServiceProvider services, RevokedCredentials revocations, TimeProvider clock, ILogger<RevokedCredentialsListener> logger) : BackgroundService
{
    // A connection that went quiet is checked this often: a dead peer may never close the socket.
    private static readonly TimeSpan QuietCheck = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(1);

    public const string ApplicationName = "wallet-credential-revocations";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever broke (the database restarting, the network), listen again on a fresh connection.
                LogLost(logger, exception.Message);
                try
                {
                    await Task.Delay(RetryPause, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        // Asked for here, not when built: a silo's data source exists once its database has started.
        await using var connection = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(stoppingToken);
        connection.Notification += (_, notice) => revocations.Publish(notice.Payload);
        // Named, so that an operator can tell it among the database's sessions.
        await using (var listen = new NpgsqlCommand($"SET application_name = '{ApplicationName}'; LISTEN {CredentialRevocations.Channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }

        revocations.Publish(null);
        while (true)
        {
            if (!await connection.WaitAsync(QuietCheck, stoppingToken))
            {
                await using var check = new NpgsqlCommand("SELECT 1", connection);
                await check.ExecuteScalarAsync(stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not listening for revoked credentials ({Reason}); cached ones expire on their own until it listens again")]
    private static partial void LogLost(ILogger logger, string reason);
}
