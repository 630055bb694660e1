using System.Collections.Concurrent;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Identities found for a credential (an API key's hash, a session token), kept for
/// <c>lifetime</c> so that authenticating costs no database round trip per request. Bounded:
/// past <c>entriesMax</c> it starts afresh rather than grow. What ends a credential's access
/// reaches it through <see cref="RevokedCredentials"/>, which calls <see cref="Forget(string?)"/>.
/// A credential is looked up once at a time: the requests that miss it meanwhile wait for that
/// look-up instead of each making their own (when an entry of a busy key ran out, every request in
/// flight looked it up, and each look-up of an API key writes its row).
/// </summary>
/// <param name="revokes">Whether a revocation notice (<c>CredentialRevocations</c>) ends a cached credential and its identity.</param>
public sealed class IdentityCache<TIdentity>(TimeSpan lifetime, int entriesMax, Func<string, string, TIdentity, bool> revokes)
    where TIdentity : class
{
    private readonly ConcurrentDictionary<string, (TIdentity Identity, long ExpiresAt)> _entries = new(StringComparer.Ordinal);

    // The look-ups under way, by credential.
    private readonly ConcurrentDictionary<string, Task<(TIdentity? Identity, long Notices)>> _lookups = new(StringComparer.Ordinal);

    // The notices heard so far: a look-up that one overtook keeps nothing.
    private long _notices;

    /// <summary>
    /// The cached identity of <paramref name="credential"/>, or it found anew (and cached) by
    /// <paramref name="find"/>; null when unknown. An identity that <paramref name="expiresAt"/> says
    /// ends sooner than the cache's lifetime is kept only until then.
    /// </summary>
    public async Task<TIdentity?> FindAsync(
        string credential, TimeProvider clock, Func<Task<TIdentity?>> find, Func<TIdentity, DateTimeOffset?>? expiresAt = null)
    {
        if (_entries.TryGetValue(credential, out var cached) && cached.ExpiresAt > clock.GetTimestamp())
        {
            return cached.Identity;
        }

        var notices = Interlocked.Read(ref _notices);
        var mine = new TaskCompletionSource<(TIdentity? Identity, long Notices)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var underWay = _lookups.GetOrAdd(credential, mine.Task);
        if (underWay != mine.Task)
        {
            try
            {
                // A look-up that began before a notice this request has heard of may have read what
                // the notice ended; nor does one whose request went away say anything of this one.
                // Either way this request asks again (that look-up is no longer listed by then: it
                // leaves the list before it completes).
                var found = await underWay;
                if (found.Notices == notices)
                {
                    return found.Identity;
                }
            }
            catch (OperationCanceledException)
            {
            }

            return await FindAsync(credential, clock, find, expiresAt);
        }

        var lookup = new KeyValuePair<string, Task<(TIdentity?, long)>>(credential, mine.Task);
        try
        {
            var identity = await LookUpAsync(credential, notices, clock, find, expiresAt);
            _lookups.TryRemove(lookup);
            mine.SetResult((identity, notices));
            return identity;
        }
        catch (Exception e)
        {
            _lookups.TryRemove(lookup);
            mine.SetException(e);
            _ = mine.Task.Exception; // observed: no other request may be waiting for it
            throw;
        }
    }

    private async Task<TIdentity?> LookUpAsync(
        string credential, long notices, TimeProvider clock, Func<Task<TIdentity?>> find, Func<TIdentity, DateTimeOffset?>? expiresAt)
    {
        var now = clock.GetTimestamp();
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

        var keep = lifetime;
        if (expiresAt?.Invoke(identity) is { } end && end - clock.GetUtcNow() < keep)
        {
            keep = end - clock.GetUtcNow();
        }

        var entry = (identity, now + (long)(keep.TotalSeconds * clock.TimestampFrequency));
        _entries[credential] = entry;
        // A notice heard since the look-up began may have ended what it read: that is not kept. (A
        // notice after this check finds the entry, since it counts itself before it looks.)
        if (Interlocked.Read(ref _notices) != notices)
        {
            _entries.TryRemove(new KeyValuePair<string, (TIdentity, long)>(credential, entry));
        }

        return identity;
    }

    /// <summary>
    /// Forgets what <paramref name="revoked"/> (a <c>CredentialRevocations</c> notice) ends; a null
    /// notice means some may have been missed, and forgets everything.
    /// </summary>
    public void Forget(string? revoked)
    {
        Interlocked.Increment(ref _notices);
        if (revoked is null)
        {
            _entries.Clear();
            return;
        }

        // Notices are rare and the cache is bounded: looking at every entry is cheap enough.
        foreach (var (credential, entry) in _entries)
        {
            if (revokes(revoked, credential, entry.Identity))
            {
                _entries.TryRemove(credential, out _);
            }
        }
    }
}
