using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Cards;

public sealed record AuthorizeRequest(string Amount, string MerchantName, string? MerchantCategory = null, string? MerchantCountry = null, string? Description = null);

public sealed record CaptureAuthorizationRequest(string? Amount = null, bool? Final = null);

public sealed record AmountOnlyRequest(string? Amount = null);

/// <summary>
/// Card authorizations: the decision (approved with a hold, or declined with the code of the first
/// failing check, recorded either way), the lists of decisions, and capture, reversal, increment.
/// </summary>
public static class AuthorizationEndpoints
{
    public const int MerchantNameLengthMax = 255;
    public const int DescriptionLengthMax = 1_000;

    public static IEndpointRouteBuilder MapAuthorizationEndpoints(this IEndpointRouteBuilder app)
    {
        var cards = app.MapGroup("/v1/cards").WithTags("Authorizations").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("").WithTags("Authorizations").RequireAuthorization(Permissions.Read);
        cards.MapPost("{id}/authorizations", Authorize).HoldsReceiptReadings().Accepts<AuthorizeRequest>("application/json")
            .Produces<AuthorizationView>(StatusCodes.Status201Created)
            // A declined authorization is recorded and answered as the problem of its reason.
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.InsufficientFunds, LedgerErrors.FraudBlocked, LedgerErrors.CardNotFound,
                LedgerErrors.CardFrozen, LedgerErrors.CardCancelled, LedgerErrors.CategoryBlocked, LedgerErrors.LimitExceeded,
                LedgerErrors.WalletFrozen, LedgerErrors.WalletClosed)
            .WithName("AuthorizeCard").WithSummary("Authorize a card payment: approved with a hold, or declined");
        read.MapGet("/v1/cards/{id}/authorizations", ListCardAuthorizations)
            .Paged().Refuses(LedgerErrors.CardNotFound).WithName("ListCardAuthorizations").WithSummary("List a card's authorizations, newest first");

        read.MapGet("/v1/card-transactions", ListTransactions)
            .Paged().WithName("ListCardTransactions")
            .WithSummary("List the tenant's card authorizations, newest first; by card, status, or receipt (missing: open or captured with none, or its receipt's status)");

        var authorizations = app.MapGroup("/v1/authorizations").WithTags("Authorizations").RequireAuthorization(Permissions.Transact);
        read.MapGet("/v1/authorizations/{id}", GetAuthorization).Refuses(LedgerErrors.AuthorizationNotFound)
            .WithName("GetAuthorization").WithSummary("Get an authorization");
        authorizations.MapPost("{id}/capture", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CardStore store, IdempotencyStore keys, TimeProvider clock) =>
            Act(id, AuthorizationAction.Capture, http, user, client, store, keys, clock)).HoldsReceiptReadings()
            .Accepts<CaptureAuthorizationRequest>("application/json").Produces<AuthorizationView>()
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.AuthorizationNotFound, LedgerErrors.AuthorizationClosed, LedgerErrors.AmountExceedsHold)
            .WithName("CaptureAuthorization").WithSummary("Capture some or all of an approved authorization");
        authorizations.MapPost("{id}/reverse", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CardStore store, IdempotencyStore keys, TimeProvider clock) =>
            Act(id, AuthorizationAction.Reverse, http, user, client, store, keys, clock)).HoldsReceiptReadings()
            .Accepts<AmountOnlyRequest>("application/json").Produces<AuthorizationView>()
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.AuthorizationNotFound, LedgerErrors.AuthorizationClosed, LedgerErrors.AmountExceedsHold)
            .WithName("ReverseAuthorization").WithSummary("Reverse some or all of an approved authorization");
        authorizations.MapPost("{id}/increment", (string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CardStore store, IdempotencyStore keys, TimeProvider clock) =>
            Act(id, AuthorizationAction.Increment, http, user, client, store, keys, clock)).HoldsReceiptReadings()
            .Accepts<AmountOnlyRequest>("application/json").Produces<AuthorizationView>()
            .Refuses(LedgerErrors.InvalidAmount, LedgerErrors.InsufficientFunds, LedgerErrors.AuthorizationNotFound, LedgerErrors.AuthorizationClosed,
                LedgerErrors.CardFrozen, LedgerErrors.CardCancelled, LedgerErrors.LimitExceeded, LedgerErrors.WalletFrozen)
            .WithName("IncrementAuthorization").WithSummary("Raise an approved authorization");
        return app;
    }

    private static async Task<IResult> Authorize(string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, IdempotencyStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var amount = body.AmountText("amount", required: true);
        var merchant = body.String("merchant_name", required: true, lengthMax: MerchantNameLengthMax);
        var category = body.String("merchant_category", required: false, lengthMax: 100);
        var country = body.String("merchant_country", required: false, lengthMax: 2)?.ToUpperInvariant();
        var description = body.String("description", required: false, lengthMax: DescriptionLengthMax);
        if (merchant is not null && string.IsNullOrWhiteSpace(merchant))
        {
            body.Fail("merchant_name must not be blank");
        }

        if (country is not null && (country.Length != 2 || !country.All(char.IsAsciiLetter)))
        {
            body.Fail("merchant_country must be a two-letter ISO 3166 country code");
        }

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
                return CardEndpoints.NotFound(id);
            }

            var command = new AuthorizeCommand(tenantId, CardIds.NewAuthorization(), amount!, merchant!, category, country, description, idempotency,
                LedgerTime.Truncate(clock.GetUtcNow()));
            var result = await client.Card(id).Authorize(command);
            return ToResult(result, result.Authorization is { Approved: true } approved ? $"/v1/authorizations/{approved.Id}" : null);
        }, http.HttpContext.RequestAborted);
    }

    private static async Task<Results<Ok<ListResponse<AuthorizationView>>, ProblemHttpResult>> ListCardAuthorizations(
        string id, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CardStore cards, string? status = null)
    {
        var card = await CardEndpoints.FindAsync(id, user, client);
        return card.Failure is { } failure ? Problems.For(failure) : await ListAsync(http, user, cards, id, status);
    }

    private static Task<Results<Ok<ListResponse<AuthorizationView>>, ProblemHttpResult>> ListTransactions(
        HttpRequest http, ClaimsPrincipal user, CardStore cards, [FromQuery(Name = "card_id")] string? cardId = null, string? status = null,
        string? receipt = null) =>
        ListAsync(http, user, cards, cardId, status, receipt);

    private static async Task<Results<Ok<ListResponse<AuthorizationView>>, ProblemHttpResult>> ListAsync(
        HttpRequest http, ClaimsPrincipal user, CardStore cards, string? cardId, string? status, string? receipt = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (status is not null && !AuthorizationStatuses.All.Contains(status))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"status must be one of {string.Join(", ", AuthorizationStatuses.All)}");
        }

        if (receipt is not null && !AuthorizationReceipts.Filters.Contains(receipt))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"receipt must be one of {string.Join(", ", AuthorizationReceipts.Filters)}");
        }

        if (paging.Cursor is not null && !paging.Cursor.StartsWith(CardIds.AuthorizationPrefix, StringComparison.Ordinal))
        {
            return Paging.InvalidCursor();
        }

        var page = await cards.ListAuthorizationsAsync(
            new AuthorizationQuery(user.TenantId(), cardId, status, paging.Limit, paging.Cursor, receipt), http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<AuthorizationView>(page.Data, page.NextCursor));
    }

    private static async Task<Results<Ok<AuthorizationView>, ProblemHttpResult>> GetAuthorization(
        string id, ClaimsPrincipal user, CardStore cards, CancellationToken cancellationToken)
    {
        var authorization = await cards.GetAuthorizationAsync(user.TenantId(), id, cancellationToken);
        return authorization is null ? NotFound(id) : TypedResults.Ok(authorization);
    }

    private static async Task<IResult> Act(
        string id, AuthorizationAction action, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CardStore cards, IdempotencyStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http, allowEmpty: action != AuthorizationAction.Increment);
        if (body is null)
        {
            return problem!;
        }

        var amount = body.AmountText("amount", required: action == AuthorizationAction.Increment);
        var final = action == AuthorizationAction.Capture && body.Boolean("final");
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            // Only where to send it: the card grain reads the authorization and decides.
            if (await cards.CardOfAuthorizationAsync(tenantId, id, http.HttpContext.RequestAborted) is not { } cardId)
            {
                return NotFound(id);
            }

            var command = new AuthorizationCommand(tenantId, id, action, amount, final, TransferIds.New(), idempotency,
                LedgerTime.Truncate(clock.GetUtcNow()));
            return ToResult(await client.Card(cardId).Act(command), location: null);
        }, http.HttpContext.RequestAborted);
    }

    /// <summary>
    /// A decision carries the answer as the grain stored it (a declined one as its failure), rendered
    /// as a replay of it is, so a live answer and its replay are the same bytes.
    /// </summary>
    private static IResult ToResult(AuthorizationResult result, string? location) => result switch
    {
        { Failure.Code: LedgerErrors.IdempotencyKeyExists } => Idempotency.KeyExistsResult.Instance,
        { Answer: { } stored } => Idempotency.Render(stored, result.Replayed, location),
        { Failure: { } failure } => Problems.For(failure),
        _ => JsonBodyResult.From(StatusCodes.Status200OK, result.Authorization!, result.Replayed),
    };

    private static ProblemHttpResult NotFound(string id) => Problems.Create(LedgerErrors.AuthorizationNotFound, $"authorization {id} not found");
}
