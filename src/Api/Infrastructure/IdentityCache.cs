using System.Collections.Concurrent;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Identities found for a credential (an API key's hash, a session token), kept for
/// <c>lifetime</c> so that authenticating costs no database round trip per request. Bounded:
/// past <c>entriesMax</c> it starts afresh rather than grow.
/// </summary>
public sealed class IdentityCache<TIdentity>(TimeSpan lifetime, int entriesMax)
    where TIdentity : class
{
    private readonly ConcurrentDictionary<string, (TIdentity Identity, long ExpiresAt)> _entries = new(StringComparer.Ordinal);

    /// <summary>The cached identity of <paramref name="credential"/>, or it found anew (and cached) by <paramref name="find"/>; null when unknown.</summary>
    public async Task<TIdentity?> FindAsync(string credential, TimeProvider clock, Func<Task<TIdentity?>> find)
    {
        var now = clock.GetTimestamp();
        if (_entries.TryGetValue(credential, out var cached) && cached.ExpiresAt > now)
        {
            return cached.Identity;
        }

        var identity = await find();
        if (identity is null)
        {
            _entries.TryRemove(credential, out _);
            return null;
        }

        if (_entries.Count >= entriesMax)
        {
            _entries.Clear();
        }

        _entries[credential] = (identity, now + (long)(lifetime.TotalSeconds * clock.TimestampFrequency));
        return identity;
    }

    public void Forget(string credential) => _entries.TryRemove(credential, out _);
}
