using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Compliance;
using Wallet.Api.Infrastructure;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Compliance;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Transfers;

/// <summary>
/// Turns a transfer request into a call on the grain that runs it: the source wallet's, or the
/// destination wallet's when a system account gives (<c>@treasury</c>). A transfer between two
/// system accounts is their source's, found from the request's <c>currency</c>.
/// </summary>
public sealed class TransferService(
    IClusterClient client, IdempotencyStore store, CurrencyCatalog currencies, ComplianceScreening screening, CustomAccounts accounts, TimeProvider clock)
{
    public const int DescriptionLengthMax = 1_000;

    /// <summary>
    /// Reads the body (amount, reference, description, metadata, for /v1/transfers currency, and for a
    /// withdrawal its counterparty) and runs the transfer. A withdrawal's counterparty is screened
    /// first: one that needs review refuses it (422 <c>compliance_review</c>) until an operator clears it.
    /// </summary>
    public async Task<IResult> CreateAsync(HttpRequest http, ClaimsPrincipal user, string? source, string? destination, JsonRequest? body = null)
    {
        var tenantId = user.TenantId();
        if (body is null)
        {
            var (read, problem) = await JsonRequest.ReadAsync(http);
            if (read is null)
            {
                return problem!;
            }

            body = read;
        }

        var amount = body.AmountText("amount", required: true);
        var currency = body.String("currency", required: false, lengthMax: 12);
        var reference = body.String("reference", required: false);
        var description = body.String("description", required: false, DescriptionLengthMax);
        var metadata = body.Metadata();
        var counterparty = body.Object("counterparty", named: true) is { } named ? ComplianceEndpoints.ReadPerson(named, withDateOfBirth: false) : null;
        if (counterparty is not null && (destination != "@" + SystemAccounts.Settlement || source is null || SystemAccounts.IsReference(source)))
        {
            body.Fail("counterparty is given on withdrawals only: transfers from a wallet to @settlement");
        }

        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        var invalid = (IResult?)body.Problem ?? keyProblem ?? CheckAccounts(source!, destination!)
            ?? await NamedAsync(accounts, tenantId, source!, http.HttpContext.RequestAborted) ?? await NamedAsync(accounts, tenantId, destination!, http.HttpContext.RequestAborted);
        if (invalid is not null)
        {
            return invalid;
        }

        if (currency is not null && await currencies.FindAsync(tenantId, currency, http.HttpContext.RequestAborted) is null)
        {
            return Problems.For(CurrencyCatalog.Unknown(currency));
        }

        var command = new TransferCommand(tenantId, TransferIds.New(), source!, destination!, amount!,
            currency, reference, description, metadata, idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            if (counterparty is not null && await screening.ScreenCounterpartyAsync(
                    tenantId, source!, counterparty.Name, counterparty.Country, AuthEndpoints.Actor(user), http.HttpContext.RequestAborted) is { } review)
            {
                return Problems.Create(LedgerErrors.ComplianceReview,
                    $"the counterparty screened as {review.Status} (screening {review.Id}); the withdrawal may be sent again once the screening is cleared");
            }

            return await RunAsync(command);
        }, http.HttpContext.RequestAborted);
    }

    private async Task<IResult> RunAsync(TransferCommand command)
    {
        // Money a system account gives a user wallet moves in that wallet's transaction, in its currency.
        if (SystemAccounts.IsReference(command.Source) && !SystemAccounts.IsReference(command.Destination))
        {
            return Answer(await client.Wallet(command.Destination).Transfer(command));
        }

        var (sourceKey, failure) = await ResolveSourceAsync(command);
        if (failure is not null)
        {
            return Problems.For(failure);
        }

        return Answer(await client.Wallet(sourceKey!).Transfer(command));
    }

    private static IResult Answer(TransferResult result) => Idempotency.Answer(result.Failure, () =>
        JsonBodyResult.From(StatusCodes.Status201Created, result.Transfer!, result.Replayed, $"/v1/transfers/{result.Transfer!.Id}"));

    private async Task<(string? Key, LedgerFailure? Failure)> ResolveSourceAsync(TransferCommand command)
    {
        if (!SystemAccounts.TryParseReference(command.Source, out var name))
        {
            return (command.Source, null);
        }

        var currency = command.Currency;
        if (currency is null)
        {
            if (SystemAccounts.IsReference(command.Destination))
            {
                return (null, new LedgerFailure(LedgerErrors.ValidationFailed, "currency is required when both accounts are system accounts"));
            }

            var destination = await client.Wallet(command.Destination).Get(command.TenantId);
            if (destination.Failure is not null)
            {
                return (null, destination.Failure);
            }

            currency = destination.Wallet!.Currency;
        }

        return (SystemAccounts.WalletId(command.TenantId, name, currency), null);
    }

    private static IResult? CheckAccounts(string source, string destination) =>
        CheckAccount(source) ?? CheckAccount(destination)
        ?? (source == destination ? Problems.Create(LedgerErrors.SameWallet, "source and destination are the same account") : null);

    /// <summary>A problem when <paramref name="account"/> is neither a system account reference nor a wallet id.</summary>
    public static IResult? CheckAccount(string account)
    {
        if (SystemAccounts.IsReference(account))
        {
            return SystemAccounts.TryParseReference(account, out _) ? null : Problems.Create(LedgerErrors.ValidationFailed, SystemAccounts.NotAnAccount(account));
        }

        return WalletIds.IsWalletId(account) ? null : Problems.Create(LedgerErrors.WalletNotFound, $"wallet {account} not found");
    }

    /// <summary>A problem when <paramref name="account"/> (checked by <see cref="CheckAccount"/>) names a custom account the tenant has in no asset.</summary>
    public static async ValueTask<IResult?> NamedAsync(CustomAccounts accounts, string tenantId, string account, CancellationToken ct) =>
        SystemAccounts.TryParseReference(account, out var name) && !await accounts.NamesAsync(tenantId, name, ct)
            ? Problems.Create(LedgerErrors.ValidationFailed, SystemAccounts.NotAnAccount(account))
            : null;
}
