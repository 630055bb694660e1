using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Cards;

public sealed record SpendingControlsRequest(
    string? PerAuthorization = null, string? Daily = null, string? Weekly = null, string? Monthly = null, string? AllTime = null,
    IReadOnlyList<string>? AllowedCategories = null, IReadOnlyList<string>? BlockedCategories = null);

public sealed record CreateCardRequest(
    string WalletId, string CardholderName, string CardNumber, SpendingControlsRequest? SpendingControls = null, JsonElement? Metadata = null);

public sealed record UpdateCardRequest(string? CardholderName = null, SpendingControlsRequest? SpendingControls = null, JsonElement? Metadata = null);

/// <summary>Cards: issue, read, list, change controls, freeze, unfreeze, cancel. Each command is a call on the card's grain.</summary>
public static class CardEndpoints
{
    public const int CardholderNameLengthMax = 200;

    private static readonly string[] ControlFields =
        ["per_authorization", "daily", "weekly", "monthly", "all_time", "allowed_categories", "blocked_categories"];

    public static RouteGroupBuilder MapCardEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/cards").WithTags("Cards").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("/v1/cards").WithTags("Cards").RequireAuthorization(Permissions.Read);
        var freeze = app.MapGroup("/v1/cards").WithTags("Cards").RequireAuthorization(Permissions.Freeze);
        group.MapPost("", CreateCard).Accepts<CreateCardRequest>("application/json")
            .Produces<CardView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.CardNumberInvalid, LedgerErrors.InvalidAmount, LedgerErrors.UnknownCurrency, LedgerErrors.WalletNotFound,
                LedgerErrors.CardNumberExists, LedgerErrors.WalletClosed)
            .WithName("CreateCard").WithSummary("Issue a card on a wallet");
        read.MapGet("", ListCards)
            .Paged().WithName("ListCards").WithSummary("List the tenant's cards");
        read.MapGet("{id}", GetCard).Refuses(LedgerErrors.CardNotFound)
            .WithName("GetCard").WithSummary("Get a card");
        group.MapPatch("{id}", UpdateCard).Accepts<UpdateCardRequest>("application/json").Produces<CardView>()
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.CardNotFound, LedgerErrors.CardCancelled)
            .WithName("UpdateCard").WithSummary("Change a card's holder name, spending controls or metadata");
        foreach (var (name, change, summary, on) in new[]
        {
            ("freeze", CardStatusChange.Freeze, "Freeze a card: its authorizations are declined", freeze),
            ("unfreeze", CardStatusChange.Unfreeze, "Unfreeze a card", freeze),
            ("cancel", CardStatusChange.Cancel, "Cancel a card, for good", group),
        })
        {
            on.MapPost($"{{id}}/{name}", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, TimeProvider clock) =>
                ChangeStatus(id, change, http, user, client, store, clock)).Produces<CardView>()
                .Refuses(LedgerErrors.CardNotFound, LedgerErrors.CardCancelled).WithName($"{change}Card").WithSummary(summary);
        }

        return group;
    }

    /// <summary>
    /// The Idempotency-Key's request hash for a body that holds a card number: keyed, so the stored
    /// hash cannot be searched for a number without the secret.
    /// </summary>
    internal static (IdempotencyRequest? Request, IResult? Problem) ReadKeyed(HttpRequest http, JsonRequest body, CardNumbers numbers)
    {
        var (request, problem) = Idempotency.Read(http, body);
        return request is null ? (null, problem) : (request with { RequestHash = numbers.Hash(request.RequestHash) }, null);
    }

    private static async Task<IResult> CreateCard(
        HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, CardNumbers numbers, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var walletId = body.String("wallet_id", required: true, lengthMax: 64);
        var name = Name(body, required: true);
        var number = body.String("card_number", required: true, lengthMax: 64);
        var controls = ReadControls(body) ?? SpendingControls.None;
        var metadata = body.Metadata();
        var (idempotency, keyProblem) = ReadKeyed(http, body, numbers);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        if (!WalletIds.IsWalletId(walletId!))
        {
            return Problems.Create(LedgerErrors.WalletNotFound, $"wallet {walletId} not found");
        }

        var tenantId = user.TenantId();
        var command = new CreateCard(tenantId, walletId!, name!, number!, controls, metadata, idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var id = CardIds.NewCard();
            var result = await client.Card(id).Create(command);
            return ToResult(result, StatusCodes.Status201Created, $"/v1/cards/{id}");
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<Results<Ok<CardView>, ProblemHttpResult>> GetCard(string id, ClaimsPrincipal user, IClusterClient client)
    {
        var result = await FindAsync(id, user, client);
        return result.Failure is { } failure ? Problems.For(failure) : TypedResults.Ok(result.Card);
    }

    private static async Task<Results<Ok<ListResponse<CardView>>, ProblemHttpResult>> ListCards(
        HttpRequest http, ClaimsPrincipal user, CardStore cards, string? status = null, [FromQuery(Name = "wallet_id")] string? walletId = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (status is not null and not (CardStatuses.Active or CardStatuses.Frozen or CardStatuses.Cancelled))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "status must be active, frozen or cancelled");
        }

        if (paging.Cursor is not null && !CardIds.IsCardId(paging.Cursor))
        {
            return Paging.InvalidCursor();
        }

        var page = await cards.ListAsync(new CardQuery(user.TenantId(), status, walletId, paging.Limit, paging.Cursor), http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<CardView>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> UpdateCard(string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var unknown = body.Fields.FirstOrDefault(f => f is not ("cardholder_name" or "spending_controls" or "metadata"));
        if (unknown is not null)
        {
            body.Fail($"'{unknown}' cannot be changed; a card's cardholder_name, spending_controls and metadata can");
        }

        var name = Name(body, required: false);
        var controls = ReadControls(body);
        var metadata = body.Metadata();
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            if (!CardIds.IsCardId(id))
            {
                return NotFound(id);
            }

            var command = new UpdateCard(tenantId, name, controls, metadata, idempotency, LedgerTime.Truncate(clock.GetUtcNow()));
            return ToResult(await client.Card(id).Update(command), StatusCodes.Status200OK, location: null);
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<IResult> ChangeStatus(
        string id, CardStatusChange change, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, TimeProvider clock)
    {
        var (idempotency, problem) = await Idempotency.ReadBodilessAsync(http);
        if (problem is not null)
        {
            return problem;
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            if (!CardIds.IsCardId(id))
            {
                return NotFound(id);
            }

            var command = new ChangeCardStatus(tenantId, change, idempotency, LedgerTime.Truncate(clock.GetUtcNow()), AuthEndpoints.Actor(user));
            return ToResult(await client.Card(id).ChangeStatus(command), StatusCodes.Status200OK, location: null);
        }, http.HttpContext.RequestAborted);
    }

    /// <summary>The cardholder's name, trimmed; blank is refused like empty.</summary>
    private static string? Name(JsonRequest body, bool required)
    {
        var name = body.String("cardholder_name", required, lengthMax: CardholderNameLengthMax)?.Trim();
        return name is { Length: 0 } ? body.Fail("cardholder_name must not be blank") : name;
    }

    /// <summary>The <c>spending_controls</c> object; null when absent. Unknown fields are refused, not ignored.</summary>
    private static SpendingControls? ReadControls(JsonRequest body)
    {
        var controls = body.Object("spending_controls");
        if (controls is null)
        {
            return null;
        }

        var unknown = controls.Fields.FirstOrDefault(f => !ControlFields.Contains(f));
        if (unknown is not null)
        {
            controls.Fail($"spending_controls.{unknown} is not a spending control; use {string.Join(", ", ControlFields)}");
            return null;
        }

        return new SpendingControls(
            controls.AmountText("per_authorization", required: false),
            controls.AmountText("daily", required: false),
            controls.AmountText("weekly", required: false),
            controls.AmountText("monthly", required: false),
            controls.AmountText("all_time", required: false),
            controls.Strings("allowed_categories"),
            controls.Strings("blocked_categories"));
    }

    internal static Task<CardResult> FindAsync(string id, ClaimsPrincipal user, IClusterClient client) =>
        CardIds.IsCardId(id)
            ? client.Card(id).Get(user.TenantId())
            : Task.FromResult(CardResult.Fail(LedgerErrors.CardNotFound, $"card {id} not found"));

    internal static ProblemHttpResult NotFound(string id) => Problems.Create(LedgerErrors.CardNotFound, $"card {id} not found");

    private static IResult ToResult(CardResult result, int statusCode, string? location) =>
        Idempotency.Answer(result.Failure, () => JsonBodyResult.From(statusCode, result.Card!, location: location));
}
