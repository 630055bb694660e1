using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Compliance;
using Wallet.Api.Infrastructure;
using Wallet.Api.Transfers;
using Wallet.Grains;
using Wallet.Grains.Compliance;
using Wallet.Grains.Ledger;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Wallets;

public static class WalletEndpoints
{
    public static RouteGroupBuilder MapWalletEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/wallets").WithTags("Wallets").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("/v1/wallets").WithTags("Wallets").RequireAuthorization(Permissions.Read);
        var freeze = app.MapGroup("/v1/wallets").WithTags("Wallets").RequireAuthorization(Permissions.Freeze);

        group.MapPost("", CreateWallet).Accepts<CreateWalletRequest>("application/json")
            .Produces<WalletView>(StatusCodes.Status201Created).Refuses(LedgerErrors.UnknownCurrency, LedgerErrors.InvalidAmount)
            .WithName("CreateWallet").WithSummary("Create a wallet");
        read.MapGet("", ListWallets)
            .Paged().WithName("ListWallets").WithSummary("List the tenant's wallets");
        read.MapGet("{id}", GetWallet).Refuses(LedgerErrors.WalletNotFound)
            .WithName("GetWallet").WithSummary("Get a wallet and its balances");
        read.MapGet("{id}/history", GetHistory)
            .Paged().Refuses(LedgerErrors.WalletNotFound).WithName("GetWalletHistory").WithSummary("List a wallet's postings, newest first");

        freeze.MapPost("{id}/freeze", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store) =>
            ChangeStatus(id, WalletStatusChange.Freeze, http, user, client, store)).Produces<WalletView>()
            .Refuses(LedgerErrors.WalletNotFound, LedgerErrors.WalletClosed).WithName("FreezeWallet").WithSummary("Freeze a wallet: debits are refused, credits allowed");
        freeze.MapPost("{id}/unfreeze", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store) =>
            ChangeStatus(id, WalletStatusChange.Unfreeze, http, user, client, store)).Produces<WalletView>()
            .Refuses(LedgerErrors.WalletNotFound, LedgerErrors.WalletClosed).WithName("UnfreezeWallet").WithSummary("Unfreeze a wallet");
        group.MapPost("{id}/close", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store) =>
            ChangeStatus(id, WalletStatusChange.Close, http, user, client, store)).Produces<WalletView>()
            .Refuses(LedgerErrors.WalletNotFound, LedgerErrors.WalletClosed, LedgerErrors.InvalidStatusChange).WithName("CloseWallet").WithSummary("Close a wallet that holds nothing");

        // Each shorthand is one transfer between the wallet and a system account, crediting or debiting the wallet.
        MapShorthand(group, "deposit", id => ("@" + SystemAccounts.Treasury, id), RouteProblems.Credit);
        MapShorthand(group, "withdraw", id => (id, "@" + SystemAccounts.Settlement), RouteProblems.Debit);
        MapShorthand(group, "spend", id => (id, "@" + SystemAccounts.Revenue), RouteProblems.Debit);
        MapShorthand(group, "bonus", id => ("@" + SystemAccounts.Promotions, id), RouteProblems.Credit);
        return group;
    }

    private static void MapShorthand(RouteGroupBuilder group, string name, Func<string, (string Source, string Destination)> route, string[] refusals) =>
        group.MapPost($"{{id}}/{name}", async (string id, HttpRequest http, ClaimsPrincipal user, TransferService transfers) =>
            {
                if (!WalletIds.IsWalletId(id))
                {
                    return Problems.Create(LedgerErrors.WalletNotFound, $"wallet {id} not found");
                }

                var (source, destination) = route(id);
                return await transfers.CreateAsync(http, user, source, destination);
            })
            .Accepts(name == "withdraw" ? typeof(WithdrawRequest) : typeof(AmountRequest), "application/json")
            .Produces<TransferView>(StatusCodes.Status201Created)
            .Refuses([.. RouteProblems.Movement, .. refusals])
            .WithName(name switch { "deposit" => "Deposit", "withdraw" => "Withdraw", "spend" => "Spend", _ => "Bonus" })
            .WithSummary(name switch
            {
                "deposit" => "Deposit into a wallet: a transfer from @treasury",
                "withdraw" => "Withdraw from a wallet: a transfer to @settlement",
                "spend" => "Spend from a wallet: a transfer to @revenue",
                _ => "Give a wallet a bonus: a transfer from @promotions",
            });

    private static async Task<IResult> CreateWallet(
        HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, CurrencyCatalog currencies, ComplianceScreening screening,
        ComplianceStore compliance)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var currency = body.String("currency", required: true, lengthMax: 12);
        var ownerId = body.String("owner_id", required: false);
        var person = body.Object("owner", named: true) is { } owned ? ComplianceEndpoints.ReadPerson(owned, withDateOfBirth: true) : null;
        if (person is not null && ownerId is null)
        {
            body.Fail("owner_id is required with owner: a data subject's requests find their wallets by it");
        }

        var overdraft = body.AmountText("overdraft_limit", required: false);
        var metadata = body.Metadata();
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        var invalid = (IResult?)body.Problem ?? keyProblem;
        if (invalid is not null)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        var owner = person is null ? null : new WalletOwner(person.Name, person.Country, person.DateOfBirth?.ToString(NameScreening.DateFormat, CultureInfo.InvariantCulture));
        if (owner is not null && await currencies.FindAsync(tenantId, currency!, ct) is null)
        {
            // Refused before its owner is screened, so that no screening is kept for a wallet that will not be.
            return Problems.For(CurrencyCatalog.Unknown(currency!));
        }

        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var id = WalletIds.New();
            // The owner is screened before the wallet exists: it is created under review unless the screening is clear.
            var screened = owner is null ? null : await screening.ScreenOwnerAsync(tenantId, id, owner, AuthEndpoints.Actor(user), ct);
            var review = screened is { Status: not ScreeningStatuses.Clear } ? screened.Id : null;
            var result = await client.Wallet(id).Create(new CreateWallet(tenantId, currency!, ownerId, overdraft, metadata, idempotency, owner, review));
            if (result.Failure is not null && screened is not null)
            {
                await compliance.DeleteAsync(screened.Id, CancellationToken.None);
            }

            return ToResult(result, StatusCodes.Status201Created, $"/v1/wallets/{id}");
        }, ct);
    }

    private static async Task<Results<Ok<WalletView>, ProblemHttpResult>> GetWallet(string id, ClaimsPrincipal user, IClusterClient client)
    {
        var result = await FindAsync(id, user, client);
        return result.Failure is { } failure ? Problems.For(failure) : TypedResults.Ok(result.Wallet);
    }

    private static async Task<Results<Ok<ListResponse<WalletView>>, ProblemHttpResult>> ListWallets(
        HttpRequest http,
        ClaimsPrincipal user,
        WalletStore wallets,
        [FromQuery(Name = "owner_id")] string? ownerId = null,
        string? status = null,
        string? currency = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (status is not null and not (WalletStatuses.Active or WalletStatuses.Frozen or WalletStatuses.Closed))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "status must be active, frozen or closed");
        }

        if (paging.Cursor is not null && !WalletIds.IsWalletId(paging.Cursor))
        {
            return Paging.InvalidCursor();
        }

        var page = await wallets.ListAsync(
            new WalletQuery(user.TenantId(), ownerId, status, currency, paging.Limit, paging.Cursor), http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<WalletView>(page.Data, page.NextCursor));
    }

    private static async Task<Results<Ok<ListResponse<HistoryItem>>, ProblemHttpResult>> GetHistory(
        string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, LedgerStore ledger)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var (before, cursorProblem) = paging.SeqCursor();
        if (cursorProblem is not null)
        {
            return cursorProblem;
        }

        var wallet = await FindAsync(id, user, client);
        if (wallet.Failure is { } failure)
        {
            return Problems.For(failure);
        }

        var page = await ledger.HistoryAsync(id, paging.Limit, before, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<HistoryItem>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> ChangeStatus(
        string id, WalletStatusChange change, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store)
    {
        var (idempotency, problem) = await Idempotency.ReadBodilessAsync(http);
        if (problem is not null)
        {
            return problem;
        }

        if (!WalletIds.IsWalletId(id))
        {
            return Problems.Create(LedgerErrors.WalletNotFound, $"wallet {id} not found");
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var result = await client.Wallet(id).ChangeStatus(new ChangeWalletStatus(tenantId, change, idempotency, AuthEndpoints.Actor(user)));
            return ToResult(result, StatusCodes.Status200OK, location: null);
        }, http.HttpContext.RequestAborted);
    }

    internal static Task<WalletResult> FindAsync(string id, ClaimsPrincipal user, IClusterClient client) =>
        WalletIds.IsWalletId(id)
            ? client.Wallet(id).Get(user.TenantId())
            : Task.FromResult(WalletResult.Fail(LedgerErrors.WalletNotFound, $"wallet {id} not found"));

    private static IResult ToResult(WalletResult result, int statusCode, string? location) =>
        Idempotency.Answer(result.Failure, () => JsonBodyResult.From(statusCode, result.Wallet!, location: location));
}
