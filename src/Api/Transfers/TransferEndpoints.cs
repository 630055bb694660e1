using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Api.Wallets;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Transfers;

public static class TransferEndpoints
{
    public static RouteGroupBuilder MapTransferEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/transfers").WithTags("Transfers").RequireAuthorization(Permissions.Transact);
        var read = app.MapGroup("/v1/transfers").WithTags("Transfers").RequireAuthorization(Permissions.Read);
        group.MapPost("", CreateTransfer).Accepts<TransferRequest>("application/json")
            .Produces<TransferView>(StatusCodes.Status201Created)
            .Refuses([.. RouteProblems.Movement, .. RouteProblems.Credit, .. RouteProblems.Debit, LedgerErrors.SameWallet])
            .WithName("CreateTransfer").WithSummary("Transfer money between two accounts");
        read.MapGet("{id}", GetTransfer).Refuses(LedgerErrors.TransferNotFound)
            .WithName("GetTransfer").WithSummary("Get a transfer");
        return group;
    }

    private static async Task<IResult> CreateTransfer(HttpRequest http, ClaimsPrincipal user, TransferService transfers)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var source = body.String("source", required: true, lengthMax: 64);
        var destination = body.String("destination", required: true, lengthMax: 64);
        return body.Problem ?? await transfers.CreateAsync(http, user, source, destination, body);
    }

    private static async Task<Results<Ok<TransferView>, ProblemHttpResult>> GetTransfer(
        string id, ClaimsPrincipal user, LedgerStore ledger, CancellationToken cancellationToken)
    {
        var transfer = await ledger.GetTransferAsync(user.TenantId(), id, cancellationToken);
        return transfer is null
            ? Problems.Create(LedgerErrors.TransferNotFound, $"transfer {id} not found")
            : TypedResults.Ok(transfer);
    }
}
