using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// The problem codes a route answers with that depend on what it does (a wallet's route
/// <c>wallet_not_found</c>, a debit's <c>insufficient_funds</c>). The codes every route of a kind
/// has (401 <c>unauthorized</c>, 503 <c>unavailable</c>, a body's 400 and 415, the Idempotency-Key's
/// 409, a list's <c>invalid_cursor</c>) <see cref="OpenApiContract"/> adds by itself. The document
/// lists each route's codes under their statuses, and the tests check every problem an answer
/// carries against them.
/// </summary>
public static class RouteProblems
{
    /// <summary>Endpoint metadata: the route's own codes.</summary>
    public sealed class Codes(IReadOnlyList<string> values)
    {
        public IReadOnlyList<string> Values { get; } = values;
    }

    /// <summary>What any movement of money may be refused with, whichever side its wallet is on.</summary>
    public static readonly string[] Movement =
    [
        LedgerErrors.InvalidAmount, LedgerErrors.UnknownCurrency, LedgerErrors.WalletNotFound, LedgerErrors.Conflict,
        LedgerErrors.CurrencyMismatch, LedgerErrors.WalletClosed,
    ];

    /// <summary>What a credit may add: an issuing account past its budget, a balance past the ledger's range.</summary>
    public static readonly string[] Credit = [LedgerErrors.BudgetExceeded, LedgerErrors.LimitExceeded];

    /// <summary>What a debit may add: the wallet short of funds, frozen, or under compliance review (its withdrawals).</summary>
    public static readonly string[] Debit = [LedgerErrors.InsufficientFunds, LedgerErrors.WalletFrozen, LedgerErrors.ComplianceReview];

    /// <summary>Declares the codes the route may refuse with, and their statuses as problem answers.</summary>
    public static RouteHandlerBuilder Refuses(this RouteHandlerBuilder builder, params string[] codes)
    {
        builder.WithMetadata(new Codes(codes));
        foreach (var status in codes.Select(Problems.StatusFor).Distinct())
        {
            builder.ProducesProblem(status);
        }

        return builder;
    }
}
