using Wallet.Grains.Money;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>A user wallet's posting in a multi-leg entry: <see cref="Amount"/> (negative: a debit).</summary>
internal sealed record EntryPosting(string WalletId, long Amount);

/// <summary>
/// A multi-leg entry checked and converted to minor units: the user wallets' postings (each in its
/// wallet's transaction), the system accounts' (on the header, posted by the storage), and the
/// answer to give and keep with the Idempotency-Key.
/// </summary>
internal sealed record EntryPlan(
    string TenantId,
    string EntryId,
    string Currency,
    IReadOnlyList<EntryPosting> Wallets,
    LedgerEntryHeader Header,
    IdempotencyRequest? Idempotency,
    StoredAnswer Answer)
{
    public IReadOnlyList<SystemLeg> SystemLegs => Header.SystemLegs ?? [];
}

/// <summary>What makes a multi-leg entry valid, decided before any wallet is asked.</summary>
internal static class EntryRules
{
    /// <summary>
    /// Checks <paramref name="command"/> in <paramref name="currency"/> (amounts, each account once,
    /// debits summing to the credits, at least one user wallet) and builds the entry and its answer.
    /// Whether each wallet exists, holds the currency and may be debited is its own transaction's.
    /// </summary>
    public static (EntryPlan? Entry, EntryView? View, LedgerFailure? Failure) Plan(EntryCommand command, Currency currency)
    {
        if (command.Debits.Length == 0 || command.Credits.Length == 0)
        {
            return Reject(LedgerErrors.ValidationFailed, "an entry has at least one debit and one credit");
        }

        if (command.Debits.Length + command.Credits.Length > EntryCommand.LegsMax)
        {
            return Reject(LedgerErrors.ValidationFailed, $"an entry has at most {EntryCommand.LegsMax} debits and credits together");
        }

        var postings = new List<(string Id, string Display, long Amount)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // At most EntryCommand.LegsMax amounts of at most Amount.MinorUnitsMax each: the sums fit in a long.
        long debited = 0;
        long credited = 0;
        foreach (var (legs, side, sign) in (ReadOnlySpan<(EntryLegRequest[], string, int)>)[(command.Debits, "debits", -1), (command.Credits, "credits", 1)])
        {
            for (var i = 0; i < legs.Length; i++)
            {
                var leg = legs[i];
                var error = Amount.TryParse(leg.Amount, currency.Scale, out var minor);
                if (error != AmountError.None)
                {
                    return Reject(LedgerErrors.InvalidAmount, $"{side}[{i}].amount: {Amount.Describe(error, currency.Code, currency.Scale)}");
                }

                var id = WalletRules.AccountId(command.TenantId, leg.Account, currency.Code);
                if (!seen.Add(id))
                {
                    return Reject(LedgerErrors.ValidationFailed, $"{leg.Account} appears more than once; an entry posts to each account once");
                }

                postings.Add((id, SystemAccounts.Display(id), sign * minor));
                (debited, credited) = sign < 0 ? (debited + minor, credited) : (debited, credited + minor);
            }
        }

        if (debited > Amount.MinorUnitsMax || credited > Amount.MinorUnitsMax)
        {
            return Reject(LedgerErrors.InvalidAmount, $"an entry moves at most {Amount.Format(Amount.MinorUnitsMax, currency.Scale)} {currency.Code}");
        }

        if (debited != credited)
        {
            return Reject(LedgerErrors.EntryUnbalanced,
                $"the debits sum to {Amount.Format(debited, currency.Scale)} {currency.Code} and the credits to {Amount.Format(credited, currency.Scale)}; they must be equal");
        }

        var wallets = postings.Where(p => !SystemAccounts.IsSystemWalletId(p.Id)).Select(p => new EntryPosting(p.Id, p.Amount)).ToList();
        if (wallets.Count == 0)
        {
            return (null, null, EntryCommand.WithoutWallet);
        }

        var view = new EntryView(
            command.EntryId,
            EntryIds.KindEntry,
            currency.Code,
            Side(postings.Where(p => p.Amount < 0), currency.Scale),
            Side(postings.Where(p => p.Amount > 0), currency.Scale),
            "posted",
            command.Reference,
            command.Description,
            command.Metadata,
            command.CreatedAt);
        var header = new LedgerEntryHeader(
            command.TenantId,
            postings.First(p => p.Amount < 0).Id,
            postings.First(p => p.Amount > 0).Id,
            debited,
            command.Reference,
            command.Description,
            command.Metadata?.GetRawText(),
            command.CreatedAt,
            null)
        {
            Kind = EntryIds.KindEntry,
            Accounts = [.. postings.Select(p => p.Id)],
            SystemLegs = [.. postings.Where(p => SystemAccounts.IsSystemWalletId(p.Id)).Select(p => new SystemLeg(p.Id, p.Amount))],
        };
        var entry = new EntryPlan(command.TenantId, command.EntryId, currency.Code, wallets, header, command.Idempotency, StoredAnswers.Created(view));
        return (entry, view, null);
    }

    /// <summary>One side of an entry as clients see it: each account with its amount, ordered by account.</summary>
    public static IReadOnlyList<EntryLegView> Side(IEnumerable<(string Id, string Display, long Amount)> postings, int scale) =>
        [.. postings.OrderBy(p => p.Display, StringComparer.Ordinal).Select(p => new EntryLegView(p.Display, Amount.Format(Math.Abs(p.Amount), scale)))];

    private static (EntryPlan?, EntryView?, LedgerFailure?) Reject(string code, string detail) => (null, null, new LedgerFailure(code, detail));
}
