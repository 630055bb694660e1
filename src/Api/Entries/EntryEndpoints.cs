using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Api.Transfers;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Entries;

/// <summary>
/// Multi-leg entries: <c>POST /v1/entries</c> debits and credits several accounts at once, all or
/// nothing; <c>GET /v1/entries/{id}</c> shows any entry with every posting, a transfer's too.
/// </summary>
public static class EntryEndpoints
{
    public static RouteGroupBuilder MapEntryEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/entries").WithTags("Entries").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("/v1/entries").WithTags("Entries").RequireAuthorization(Permissions.Read);
        group.MapPost("", CreateEntry).Accepts<EntryRequest>("application/json")
            .Produces<EntryView>(StatusCodes.Status201Created)
            .Refuses([.. RouteProblems.Movement, .. RouteProblems.Credit, .. RouteProblems.Debit, LedgerErrors.EntryUnbalanced])
            .WithName("PostEntry").WithSummary("Post a multi-leg entry, all of it or nothing");
        read.MapGet("{id}", GetEntry).Refuses(LedgerErrors.EntryNotFound)
            .WithName("GetEntry").WithSummary("Get an entry or transfer with every posting");
        return group;
    }

    private static async Task<IResult> CreateEntry(
        HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, CurrencyCatalog currencies, CustomAccounts accounts,
        TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var currency = body.String("currency", required: true, lengthMax: 12);
        var debits = Legs(body, "debits");
        var credits = Legs(body, "credits");
        var reference = body.String("reference", required: false);
        var description = body.String("description", required: false, TransferService.DescriptionLengthMax);
        var metadata = body.Metadata();
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        // How many legs, how much, each account once: the entry's rules, checked where it runs (EntryRules).
        if (debits!.Concat(credits!).Select(leg => TransferService.CheckAccount(leg.Account)).FirstOrDefault(p => p is not null) is { } unknown)
        {
            return unknown;
        }

        var tenantId = user.TenantId();
        foreach (var leg in debits!.Concat(credits!))
        {
            if (await TransferService.NamedAsync(accounts, tenantId, leg.Account, http.HttpContext.RequestAborted) is { } unnamed)
            {
                return unnamed;
            }
        }

        if (await currencies.FindAsync(tenantId, currency, http.HttpContext.RequestAborted) is null)
        {
            return Problems.For(CurrencyCatalog.Unknown(currency));
        }

        var command = new EntryCommand(tenantId, EntryIds.New(), currency!, [.. debits!], [.. credits!], reference, description, metadata,
            idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
        if (command.Coordinator is not { } coordinator)
        {
            return Problems.For(EntryCommand.WithoutWallet);
        }

        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var result = await client.Wallet(coordinator).PostEntry(command);
            return Idempotency.Answer(result.Failure, () =>
                JsonBodyResult.From(StatusCodes.Status201Created, result.Entry!, result.Replayed, $"/v1/entries/{result.Entry!.Id}"));
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<Results<Ok<EntryView>, ProblemHttpResult>> GetEntry(
        string id, ClaimsPrincipal user, LedgerStore ledger, CancellationToken cancellationToken)
    {
        var entry = await ledger.GetEntryAsync(user.TenantId(), id, cancellationToken);
        return entry is null
            ? Problems.Create(LedgerErrors.EntryNotFound, $"entry {id} not found")
            : TypedResults.Ok(entry);
    }

    // One side of the entry: its legs, each an account and an amount.
    private static List<EntryLegRequest>? Legs(JsonRequest body, string side)
    {
        var items = body.Objects(side, EntryCommand.LegsMax);
        if (items is null)
        {
            body.Fail($"{side} is required");
            return null;
        }

        var legs = new List<EntryLegRequest>(items.Count);
        foreach (var item in items)
        {
            var account = item.String("account", required: true, lengthMax: 64);
            var amount = item.AmountText("amount", required: true);
            legs.Add(new EntryLegRequest(account ?? "", amount ?? ""));
        }

        return legs;
    }
}

/// <summary>The body of <c>POST /v1/entries</c> as the OpenAPI document shows it.</summary>
public sealed record EntryRequest(
    string Currency,
    IReadOnlyList<EntryLegRequest> Debits,
    IReadOnlyList<EntryLegRequest> Credits,
    string? Reference = null,
    string? Description = null,
    System.Text.Json.JsonElement? Metadata = null);
