using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Api.Transfers;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Holds;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Holds;

public sealed record CreateHoldRequest(
    string WalletId, string Amount, long? ExpiresInSeconds = null, string? Destination = null, string? Reference = null, JsonElement? Metadata = null);

public sealed record CaptureHoldRequest(string? Amount = null, bool? Final = null);

/// <summary>
/// Holds: <c>POST /v1/holds</c> places one on a wallet; capture (partial, repeated, final) and void
/// act on it; expiry is the silo's. Every command is a call on the wallet's grain.
/// </summary>
public static class HoldEndpoints
{
    public static RouteGroupBuilder MapHoldEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/holds").WithTags("Holds").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("/v1/holds").WithTags("Holds").RequireAuthorization(Permissions.Read);
        group.MapPost("", CreateHold).Accepts<CreateHoldRequest>("application/json")
            .Produces<HoldView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.SameWallet, LedgerErrors.InsufficientFunds, LedgerErrors.WalletNotFound,
                LedgerErrors.CurrencyMismatch, LedgerErrors.WalletFrozen, LedgerErrors.WalletClosed)
            .WithName("CreateHold").WithSummary("Hold money of a wallet until it is captured, voided or expires");
        read.MapGet("{id}", GetHold).Refuses(LedgerErrors.HoldNotFound)
            .WithName("GetHold").WithSummary("Get a hold");
        group.MapPost("{id}/capture", CaptureHold).Accepts<CaptureHoldRequest>("application/json")
            .Produces<CaptureView>()
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.HoldNotFound, LedgerErrors.HoldClosed, LedgerErrors.AmountExceedsHold,
                LedgerErrors.WalletClosed, LedgerErrors.LimitExceeded)
            .WithName("CaptureHold").WithSummary("Capture some or all of a hold as a transfer");
        group.MapPost("{id}/void", VoidHold).Produces<HoldView>().Refuses(LedgerErrors.HoldNotFound, LedgerErrors.HoldClosed)
            .WithName("VoidHold").WithSummary("Void a hold and release what it holds");
        return group;
    }

    private static async Task<IResult> CreateHold(
        HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, IOptions<HoldOptions> options, CustomAccounts accounts,
        TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var limits = options.Value;
        var walletId = body.String("wallet_id", required: true, lengthMax: 64);
        var amount = body.AmountText("amount", required: true);
        var seconds = body.Integer("expires_in_seconds", 1, (long)limits.MaximumExpiry.TotalSeconds);
        var destination = body.String("destination", required: false, lengthMax: 64) ?? "@" + SystemAccounts.Settlement;
        var reference = body.String("reference", required: false);
        var metadata = body.Metadata();
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var wallet = await WalletEndpoints.FindAsync(walletId!, user, client);
            if (wallet.Failure is not null)
            {
                return Problems.For(wallet.Failure);
            }

            if (await CheckDestinationAsync(destination, wallet.Wallet!, user, client, accounts) is { } refused)
            {
                return refused;
            }

            var now = LedgerTime.Truncate(clock.GetUtcNow());
            var expiresAt = now + (seconds is { } s ? TimeSpan.FromSeconds(s) : limits.DefaultExpiry);
            var command = new PlaceHold(tenantId, HoldIds.New(), amount!, destination, expiresAt, reference, metadata, idempotency, now);
            var result = await client.Wallet(walletId!).PlaceHold(command);
            return Idempotency.Answer(result.Failure, () =>
                JsonBodyResult.From(StatusCodes.Status201Created, result.Hold!, result.Replayed, $"/v1/holds/{result.Hold!.Id}"));
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<Results<Ok<HoldView>, ProblemHttpResult>> GetHold(
        string id, ClaimsPrincipal user, HoldStore holds, CancellationToken cancellationToken)
    {
        var hold = await holds.GetAsync(user.TenantId(), id, cancellationToken);
        return hold is null ? NotFound(id) : TypedResults.Ok(hold);
    }

    private static async Task<IResult> CaptureHold(
        string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, HoldStore holds, IdempotencyStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http, allowEmpty: true);
        if (body is null)
        {
            return problem!;
        }

        var amount = body.AmountText("amount", required: false);
        var final = body.Boolean("final");
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        return await RunOnHoldAsync(id, http, user, holds, store, idempotency, async hold =>
        {
            var command = new CaptureHold(user.TenantId(), id, amount, final, TransferIds.New(), idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
            var result = await client.Wallet(hold.WalletId).CaptureHold(command);
            return Idempotency.Answer(result.Failure, () =>
                JsonBodyResult.From(StatusCodes.Status200OK, new CaptureView(result.Hold!, result.Transfer!), result.Replayed));
        });
    }

    private static async Task<IResult> VoidHold(
        string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, HoldStore holds, IdempotencyStore store, TimeProvider clock)
    {
        var (idempotency, problem) = await Idempotency.ReadBodilessAsync(http);
        if (problem is not null)
        {
            return problem;
        }

        return await RunOnHoldAsync(id, http, user, holds, store, idempotency, async hold =>
        {
            var command = new ReleaseHold(user.TenantId(), id, HoldRelease.Void, null, idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
            var result = await client.Wallet(hold.WalletId).ReleaseHold(command);
            return Idempotency.Answer(result.Failure, () => JsonBodyResult.From(StatusCodes.Status200OK, result.Hold!, result.Replayed));
        });
    }

    /// <summary>Finds the hold (404 when it is not the tenant's), refuses a closed one, then runs the command under the Idempotency-Key.</summary>
    private static Task<IResult> RunOnHoldAsync(
        string id, HttpRequest http, ClaimsPrincipal user, HoldStore holds, IdempotencyStore store, IdempotencyRequest? idempotency,
        Func<HoldView, Task<IResult>> run)
    {
        var tenantId = user.TenantId();
        return Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var hold = await holds.GetAsync(tenantId, id, http.HttpContext.RequestAborted);
            if (hold is null)
            {
                return NotFound(id);
            }

            return hold.Status == HoldStatuses.Open
                ? await run(hold)
                : Problems.Create(LedgerErrors.HoldClosed, $"hold {id} is {hold.Status}");
        }, http.HttpContext.RequestAborted);
    }

    /// <summary>The destination must be a system account or another wallet of the tenant in the same currency.</summary>
    internal static async Task<IResult?> CheckDestinationAsync(
        string destination, WalletView wallet, ClaimsPrincipal user, IClusterClient client, CustomAccounts accounts)
    {
        if (SystemAccounts.IsReference(destination))
        {
            return TransferService.CheckAccount(destination)
                ?? await TransferService.NamedAsync(accounts, user.TenantId(), destination, CancellationToken.None);
        }

        if (destination == wallet.Id)
        {
            return Problems.Create(LedgerErrors.SameWallet, "a hold's destination must be another account");
        }

        var target = await WalletEndpoints.FindAsync(destination, user, client);
        if (target.Failure is not null)
        {
            return Problems.For(target.Failure);
        }

        return target.Wallet!.Currency == wallet.Currency
            ? null
            : Problems.Create(LedgerErrors.CurrencyMismatch, $"wallet {destination} holds {target.Wallet.Currency}, not {wallet.Currency}");
    }

    private static ProblemHttpResult NotFound(string id) => Problems.Create(LedgerErrors.HoldNotFound, $"hold {id} not found");
}
