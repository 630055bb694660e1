using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Wallet.Api.Infrastructure;
using Wallet.Api.Reports;
using Wallet.Grains;
using Wallet.Grains.Reports;

namespace Wallet.Dashboard;

/// <summary>The reports page's figures: the operator's tenant's trial balance and balance sheet, as of the same instant.</summary>
public sealed record ReportDeskFigures(TrialBalanceReport TrialBalance, BalanceSheetReport BalanceSheet);

/// <summary>The reports page, for the signed-in operator's tenant: the balance sheet with its check, and the trial balance, now.</summary>
public static class ReportDesk
{
    public static async Task<Ok<ReportDeskFigures>> ReadAsync(ClaimsPrincipal user, LedgerReports ledger, TimeProvider clock, CancellationToken ct)
    {
        // Now, by the silo's clock: an instant the database has reached, so it is never one still to come.
        var at = await ledger.InstantAsync(LedgerTime.Truncate(clock.GetUtcNow()), ct) ?? throw new InvalidOperationException("The database's clock is behind the silo's.");
        var balances = await ledger.BalancesAsync(user.TenantId(), null, at, ct);
        return TypedResults.Ok(new ReportDeskFigures(ReportBuilder.TrialBalance(at, balances), ReportBuilder.BalanceSheet(at, balances)));
    }
}
