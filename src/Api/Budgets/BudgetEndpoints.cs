using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Budgets;

public sealed record SetBudgetRequest(string Currency, string? Amount);

/// <summary>
/// The budgets of the accounts that issue money: <c>@treasury</c> (deposits) and <c>@promotions</c>
/// (bonuses) may go negative, by at most their budget in each currency when an operator set one.
/// </summary>
public static class BudgetEndpoints
{
    public static IEndpointRouteBuilder MapBudgetEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/system-accounts/{account}/budget").WithTags("System accounts").RequireAuthorization(Permissions.Administer);
        var read = app.MapGroup("/v1/system-accounts/{account}/budget").WithTags("System accounts").RequireAuthorization(Permissions.Finance);
        read.MapGet("", GetBudget).Produces<BudgetView>().Refuses(LedgerErrors.UnknownCurrency)
            .WithName("GetBudget").WithSummary("Get a money-issuing account's budget")
            // Read by the handler, which explains its absence; required all the same.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>().Where(p => p.Name == "currency") ?? [])
                {
                    parameter.Required = true;
                }

                return Task.CompletedTask;
            });
        group.MapPut("", SetBudget).Accepts<SetBudgetRequest>("application/json").Produces<BudgetView>()
            .Refuses(LedgerErrors.UnknownCurrency, LedgerErrors.InvalidAmount, LedgerErrors.BudgetBelowIssued)
            .WithName("SetBudget").WithSummary("Set or remove a money-issuing account's budget");
        return app;
    }

    private static async Task<IResult> GetBudget(string account, string? currency, ClaimsPrincipal user, IClusterClient client, CurrencyCatalog currencies, HttpRequest http)
    {
        if (currency is null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "currency is required (?currency=USD)");
        }

        return await AskAsync(account, currency, new BudgetCommand(user.TenantId(), Set: false, null), client, currencies, http.HttpContext.RequestAborted);
    }

    private static async Task<IResult> SetBudget(string account, HttpRequest http, ClaimsPrincipal user, IClusterClient client, CurrencyCatalog currencies)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var currency = body.String("currency", required: true, lengthMax: CurrencyCatalog.CodeLengthMax);
        var amount = body.AmountText("amount", required: false);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        if (!body.Has("amount"))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "amount is required: the budget, or null for none");
        }

        return await AskAsync(account, currency!, new BudgetCommand(user.TenantId(), Set: true, amount, AuthEndpoints.Actor(user)), client, currencies, http.HttpContext.RequestAborted);
    }

    private static async Task<IResult> AskAsync(
        string account, string currency, BudgetCommand command, IClusterClient client, CurrencyCatalog currencies, CancellationToken cancellationToken)
    {
        var name = account.TrimStart('@');
        if (!SystemAccounts.MayGoNegative(name))
        {
            return Problems.Create(LedgerErrors.ValidationFailed,
                $"only @{SystemAccounts.Treasury} and @{SystemAccounts.Promotions} issue money, so only they have a budget");
        }

        if (await currencies.FindAsync(command.TenantId, currency, cancellationToken) is null)
        {
            return Problems.For(CurrencyCatalog.Unknown(currency));
        }

        var result = await client.Wallet(SystemAccounts.WalletId(command.TenantId, name, currency)).Budget(command);
        return result.Failure is { } failure ? Problems.For(failure) : TypedResults.Ok(result.Budget);
    }
}
