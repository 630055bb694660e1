using System.Globalization;
using Microsoft.Extensions.Options;
using Wallet.Grains.Auth;
using Wallet.Grains.Wallets;

namespace Wallet.Grains.Compliance;

/// <summary>
/// The <c>Compliance</c> settings: how alike a name must be to be a potential match or a match, how
/// large a watchlist file may be, and how often a tenant's wallet owners are screened again.
/// </summary>
public sealed class ComplianceOptions
{
    public int PotentialMatchScore { get; set; } = 85;

    public int MatchScore { get; set; } = 95;

    public long WatchlistMaxBytes { get; set; } = 10 * 1024 * 1024;

    public TimeSpan RescreenEvery { get; set; } = TimeSpan.FromDays(1);
}

/// <summary>
/// Screens the names the ledger meets against the tenant's watchlists, and keeps what a review
/// needs: every name asked about and every wallet owner screened when the wallet is created, and
/// the potential matches and matches found in a withdrawal's counterparty or by a rescreening.
/// A finding an operator cleared before (the same entries, or fewer) is not found again.
/// </summary>
public sealed class ComplianceScreening(ComplianceStore store, IOptions<ComplianceOptions> options, TimeProvider clock)
{
    public static string NewId() => "scr_" + Guid.CreateVersion7().ToString("N");

    /// <summary>A name asked about, screened and kept.</summary>
    public async Task<ScreeningView> ScreenNameAsync(
        string tenantId, string name, string? country, DateOnly? dateOfBirth, string actor, CancellationToken cancellationToken)
    {
        var screening = Screen(ScreeningSubjects.Name, name, country, dateOfBirth, null, null, await store.EntriesAsync(tenantId, cancellationToken));
        await store.SaveAsync(tenantId, screening, actor, cancellationToken);
        return screening;
    }

    /// <summary>The owner of the wallet about to be created, screened and kept; the wallet is created under review unless it is clear.</summary>
    public async Task<ScreeningView> ScreenOwnerAsync(string tenantId, string walletId, WalletOwner owner, string actor, CancellationToken cancellationToken)
    {
        var screening = Screen(ScreeningSubjects.Owner, owner.Name, owner.Country, BornOn(owner), walletId, null,
            await store.EntriesAsync(tenantId, cancellationToken));
        await store.SaveAsync(tenantId, screening, actor, cancellationToken);
        return screening;
    }

    /// <summary>
    /// A withdrawal's counterparty: null when the withdrawal may go (clear, or nothing an operator
    /// did not clear before for this name and country); otherwise the screening, kept for review.
    /// </summary>
    public async Task<ScreeningView?> ScreenCounterpartyAsync(
        string tenantId, string walletId, string name, string? country, string actor, CancellationToken cancellationToken)
    {
        var screening = Screen(ScreeningSubjects.Counterparty, name, country, null, walletId, null, await store.EntriesAsync(tenantId, cancellationToken));
        if (screening.Status == ScreeningStatuses.Clear || NothingNew(screening.Hits,
                await store.ClearedHitsAsync(tenantId, ScreeningSubjects.Counterparty, null, NameScreening.Normalize(name), country, cancellationToken)))
        {
            return null;
        }

        await store.SaveAsync(tenantId, screening, actor, cancellationToken);
        return screening;
    }

    /// <summary>
    /// Screens every owner of the tenant's open wallets not under review against the lists as they
    /// are now; each new finding is kept and puts its wallet under review. Answers how many owners
    /// were screened and the wallets put under review.
    /// </summary>
    public async Task<(int Screened, IReadOnlyList<string> Flagged)> RescreenOwnersAsync(string tenantId, string jobId, CancellationToken cancellationToken)
    {
        var entries = await store.EntriesAsync(tenantId, cancellationToken);
        var owners = await store.OwnersToScreenAsync(tenantId, cancellationToken);
        var flagged = new List<string>();
        foreach (var (walletId, owner) in owners)
        {
            var screening = Screen(ScreeningSubjects.Owner, owner.Name, owner.Country, BornOn(owner), walletId, jobId, entries);
            if (screening.Status == ScreeningStatuses.Clear || NothingNew(screening.Hits,
                    await store.ClearedHitsAsync(tenantId, ScreeningSubjects.Owner, walletId, null, null, cancellationToken)))
            {
                continue;
            }

            if (await store.SaveAsync(tenantId, screening, AuditLog.Ledger, review: true, cancellationToken))
            {
                flagged.Add(walletId);
            }
        }

        return (owners.Count, flagged);
    }

    /// <summary>Whether every entry <paramref name="hits"/> found was among those of one screening an operator cleared.</summary>
    public static bool NothingNew(IReadOnlyList<ScreeningHit> hits, IEnumerable<IReadOnlyList<ScreeningHit>> cleared) =>
        cleared.Any(before => hits.All(hit => before.Any(seen => seen.Entry.List == hit.Entry.List && seen.Entry.Name == hit.Entry.Name)));

    private ScreeningView Screen(
        string subject, string name, string? country, DateOnly? dateOfBirth, string? walletId, string? jobId, IEnumerable<WatchlistEntry> entries)
    {
        var (status, hits) = NameScreening.Screen(name, country, dateOfBirth, entries, options.Value.PotentialMatchScore, options.Value.MatchScore);
        return new ScreeningView(NewId(), subject, name, country, dateOfBirth, status, hits, walletId, jobId, null, LedgerTime.Truncate(clock.GetUtcNow()));
    }

    private static DateOnly? BornOn(WalletOwner owner) =>
        owner.DateOfBirth is { } date ? DateOnly.ParseExact(date, NameScreening.DateFormat, CultureInfo.InvariantCulture) : null;
}
