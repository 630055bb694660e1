using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reports;

namespace Wallet.Api.Reports;

/// <summary>
/// Fiscal periods (finance and operators): calendar months in UTC. Closing one that has ended keeps
/// its four reports as they are then; the reports of a closed period (<c>?period=yyyy-MM</c>) are
/// those, byte for byte, from then on.
/// </summary>
public static class PeriodEndpoints
{
    public static IEndpointRouteBuilder MapPeriodEndpoints(this IEndpointRouteBuilder app)
    {
        var periods = app.MapGroup("/v1/periods").WithTags("Reports").RequireAuthorization(Permissions.Finance)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        periods.MapPost("{period}/close", CloseAsync).Produces<FiscalPeriodView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.ValidationFailed, LedgerErrors.PeriodClosed, LedgerErrors.PeriodNotEnded).WithName("ClosePeriod")
            .WithSummary("Close a month that has ended: its trial balance, balance sheet, income statement and cash flow are kept as they are now. Audited");
        periods.MapGet("", ListAsync).Produces<ListResponse<FiscalPeriodView>>()
            .WithName("ListPeriods").WithSummary("List the closed periods, newest first");
        return app;
    }

    private static async Task<IResult> CloseAsync(
        string period, HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods, TimeProvider clock)
    {
        if (!FiscalPeriods.TryParse(period, out var starts, out var ends))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "period must be a month such as 2025-07");
        }

        var ct = http.HttpContext.RequestAborted;
        var now = LedgerTime.Truncate(clock.GetUtcNow());
        // Its end must be past by the silo's clock and reached by the database's: its reports are then final.
        if (ends > now || await ledger.InstantAsync(ends, ct) is not { } end || await ledger.InstantAsync(starts, ct) is not { } start)
        {
            return Problems.Create(LedgerErrors.PeriodNotEnded, $"{period} ends at {ends:O}: a period is closed once it has ended");
        }

        var tenantId = user.TenantId();
        var balances = await ledger.BalancesAsync(tenantId, null, end, ct);
        var reports = new Dictionary<string, JsonElement>
        {
            [FiscalPeriods.TrialBalance] = JsonSerializer.SerializeToElement(ReportBuilder.TrialBalance(end, balances), WalletJson.Options),
            [FiscalPeriods.BalanceSheet] = JsonSerializer.SerializeToElement(ReportBuilder.BalanceSheet(end, balances), WalletJson.Options),
            [FiscalPeriods.IncomeStatement] = JsonSerializer.SerializeToElement(
                ReportBuilder.IncomeStatement(start, end, await ledger.MovementsAsync(tenantId, null, start, end, ct)), WalletJson.Options),
            [FiscalPeriods.CashFlow] = JsonSerializer.SerializeToElement(
                await ReportEndpoints.CashFlowAsync(ledger, tenantId, null, start, end, ct), WalletJson.Options),
        };
        var closed = new FiscalPeriodView(period, starts, ends, end.Seq, AuthEndpoints.Actor(user), now);
        return await periods.CloseAsync(tenantId, closed, reports, ct)
            ? JsonBodyResult.From(StatusCodes.Status201Created, closed)
            : Problems.Create(LedgerErrors.PeriodClosed, $"{period} is closed already");
    }

    private static async Task<IResult> ListAsync(ClaimsPrincipal user, FiscalPeriodStore periods, HttpRequest http) =>
        TypedResults.Ok(new ListResponse<FiscalPeriodView>(await periods.ListAsync(user.TenantId(), http.HttpContext.RequestAborted), null));
}
