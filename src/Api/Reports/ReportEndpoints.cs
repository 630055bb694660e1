using System.Globalization;
using System.Security.Claims;
using CsvHelper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reports;

namespace Wallet.Api.Reports;

/// <summary>
/// Accounting reports of the tenant's ledger, per asset, as JSON or (with <c>Accept: text/csv</c>)
/// CSV: the trial balance and the balance sheet as of an instant, the income statement and the
/// cash flow over a period. An instant is exact: a report of a past one never changes.
/// </summary>
public static class ReportEndpoints
{
    public const string CsvType = "text/csv";

    public static IEndpointRouteBuilder MapReportEndpoints(this IEndpointRouteBuilder app)
    {
        var reports = app.MapGroup("/v1/reports").WithTags("Reports").RequireAuthorization(Permissions.Finance);
        reports.MapGet("/trial-balance", TrialBalance).Produces<TrialBalanceReport>().AlsoAsCsv()
            .WithName("GetTrialBalance").WithSummary("The trial balance as of an instant: each account's balance as a debit or a credit, per asset");
        reports.MapGet("/balance-sheet", BalanceSheet).Produces<BalanceSheetReport>().AlsoAsCsv()
            .WithName("GetBalanceSheet").WithSummary("The balance sheet as of an instant: assets, liabilities and equity per asset, with its check");
        reports.MapGet("/income-statement", IncomeStatement).Produces<IncomeStatementReport>().AlsoAsCsv()
            .WithName("GetIncomeStatement").WithSummary("The income statement over a period: income, expenses and what was earned, per asset");
        reports.MapGet("/cash-flow", CashFlow).Produces<CashFlowReport>().AlsoAsCsv()
            .WithName("GetCashFlow").WithSummary("Money through the treasury and the settlement account over a period, per asset");
        return app;
    }

    private static async Task<IResult> TrialBalance(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods, TimeProvider clock,
        [FromQuery(Name = "as_of")] string? asOf = null, string? asset = null, string? period = null)
    {
        var (report, problem) = await OfInstantAsync(http, user, ledger, periods, clock, asOf, asset, period, FiscalPeriods.TrialBalance,
            ReportBuilder.TrialBalance, (r, code) => r with { ByAsset = [.. r.ByAsset.Where(a => a.Asset == code)] });
        return report is null ? problem! : Answer(http, report, ["asset", "account", "type", "debit", "credit"], report.ByAsset.SelectMany(a =>
            a.Accounts.Select(l => new[] { a.Asset, l.Account, l.Type, l.Debit, l.Credit }).Append([a.Asset, "total", "", a.Debits, a.Credits])));
    }

    private static async Task<IResult> BalanceSheet(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods, TimeProvider clock,
        [FromQuery(Name = "as_of")] string? asOf = null, string? asset = null, string? period = null)
    {
        var (report, problem) = await OfInstantAsync(http, user, ledger, periods, clock, asOf, asset, period, FiscalPeriods.BalanceSheet,
            ReportBuilder.BalanceSheet, (r, code) => r with { ByAsset = [.. r.ByAsset.Where(a => a.Asset == code)] });
        return report is null ? problem! : Answer(http, report, ["asset", "section", "account", "type", "amount"], report.ByAsset.SelectMany(a =>
            a.Assets.Select(l => new[] { a.Asset, "assets", l.Account, l.Type, l.Amount })
                .Concat(a.Liabilities.Select(l => new[] { a.Asset, "liabilities", l.Account, l.Type, l.Amount }))
                .Concat(a.Equity.Select(l => new[] { a.Asset, "equity", l.Account, l.Type, l.Amount }))
                .Append([a.Asset, "check", "assets", "", a.Check.Assets])
                .Append([a.Asset, "check", "liabilities_and_equity", "", a.Check.LiabilitiesAndEquity])
                .Append([a.Asset, "check", "difference", "", a.Check.Difference])));
    }

    private static async Task<IResult> IncomeStatement(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods,
        string? from = null, string? to = null, string? asset = null, string? period = null)
    {
        var (report, problem) = await OverPeriodAsync(http, user, ledger, periods, from, to, asset, period, FiscalPeriods.IncomeStatement,
            async (tenantId, code, start, end, ct) => ReportBuilder.IncomeStatement(start, end, await ledger.MovementsAsync(tenantId, code, start, end, ct)),
            (r, code) => r with { ByAsset = [.. r.ByAsset.Where(a => a.Asset == code)] });
        return report is null ? problem! : Answer(http, report, ["asset", "section", "account", "type", "amount"], report.ByAsset.SelectMany(a =>
            a.Income.Select(l => new[] { a.Asset, "income", l.Account, l.Type, l.Amount })
                .Concat(a.Expenses.Select(l => new[] { a.Asset, "expenses", l.Account, l.Type, l.Amount }))
                .Append([a.Asset, "total", "income", "", a.TotalIncome])
                .Append([a.Asset, "total", "expenses", "", a.TotalExpenses])
                .Append([a.Asset, "total", "net_income", "", a.NetIncome])));
    }

    private static async Task<IResult> CashFlow(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods,
        string? from = null, string? to = null, string? asset = null, string? period = null)
    {
        var (report, problem) = await OverPeriodAsync(http, user, ledger, periods, from, to, asset, period, FiscalPeriods.CashFlow,
            (tenantId, code, start, end, ct) => CashFlowAsync(ledger, tenantId, code, start, end, ct),
            (r, code) => r with { ByAsset = [.. r.ByAsset.Where(a => a.Asset == code)] });
        return report is null ? problem! : Answer(http, report, ["asset", "account", "type", "opening", "debits", "credits", "closing", "change"],
            report.ByAsset.SelectMany(a => a.Accounts.Select(l => new[] { a.Asset, l.Account, l.Type, l.Opening, l.Debits, l.Credits, l.Closing, l.Change })));
    }

    /// <summary>
    /// A report of an instant (<paramref name="asOf"/>, or a fiscal period's end): the one kept at the
    /// period's close, limited to the asset by <paramref name="limit"/>, or one built from the
    /// tenant's balances then; or why the request is refused.
    /// </summary>
    private static async Task<(T? Report, IResult? Problem)> OfInstantAsync<T>(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods, TimeProvider clock,
        string? asOf, string? asset, string? period, string kind, Func<LedgerInstant, IReadOnlyList<AccountBalance>, T> build, Func<T, string, T> limit)
        where T : class
    {
        var ct = http.HttpContext.RequestAborted;
        var (closed, bounds, periodProblem) = await ClosedAsync<T>(periods, user.TenantId(), period, kind, asOf, null, ct);
        if (periodProblem is not null)
        {
            return (null, periodProblem);
        }

        var (at, code, problem) = await AsOfAsync(ledger, bounds?.To ?? asOf, asset, clock, ct);
        if (at is null)
        {
            return (null, problem);
        }

        return (Limited(closed, code, limit) ?? build(at, await ledger.BalancesAsync(user.TenantId(), code, at, ct)), null);
    }

    /// <summary>A report over a period (from and to, or a fiscal period): the one kept at the period's close, or one <paramref name="build"/> makes.</summary>
    private static async Task<(T? Report, IResult? Problem)> OverPeriodAsync<T>(
        HttpRequest http, ClaimsPrincipal user, LedgerReports ledger, FiscalPeriodStore periods, string? from, string? to, string? asset, string? period,
        string kind, Func<string, string?, LedgerInstant, LedgerInstant, CancellationToken, Task<T>> build, Func<T, string, T> limit)
        where T : class
    {
        var ct = http.HttpContext.RequestAborted;
        var (closed, bounds, periodProblem) = await ClosedAsync<T>(periods, user.TenantId(), period, kind, from, to, ct);
        if (periodProblem is not null)
        {
            return (null, periodProblem);
        }

        var (range, problem) = await PeriodAsync(ledger, bounds?.From ?? from, bounds?.To ?? to, asset, ct);
        if (range is not var (start, end, code))
        {
            return (null, problem);
        }

        return (Limited(closed, code, limit) ?? await build(user.TenantId(), code, start, end, ct), null);
    }

    /// <summary>A closed period's report as kept, limited to <paramref name="asset"/> when given; null when there is none.</summary>
    private static T? Limited<T>(T? closed, string? asset, Func<T, string, T> limit)
        where T : class => closed is null || asset is null ? closed : limit(closed, asset);

    internal static async Task<CashFlowReport> CashFlowAsync(LedgerReports ledger, string tenantId, string? asset, LedgerInstant start, LedgerInstant end, CancellationToken ct) =>
        ReportBuilder.CashFlow(start, end, await ledger.BalancesAsync(tenantId, asset, start, ct), await ledger.BalancesAsync(tenantId, asset, end, ct),
            await ledger.MovementsAsync(tenantId, asset, start, end, ct));

    /// <summary>
    /// A report of a fiscal period (<c>period=yyyy-MM</c>, instead of <paramref name="first"/> and
    /// <paramref name="second"/>, as_of or from and to): the one kept when the period was closed, or
    /// when it is not closed, the period's bounds to compute it over. Nothing without a period.
    /// </summary>
    private static async Task<(T? Closed, (string From, string To)? Bounds, IResult? Problem)> ClosedAsync<T>(
        FiscalPeriodStore periods, string tenantId, string? period, string kind, string? first, string? second, CancellationToken ct)
        where T : class
    {
        if (period is null)
        {
            return (null, null, null);
        }

        if (first is not null || second is not null)
        {
            return (null, null, Problems.Create(LedgerErrors.ValidationFailed, "give a period, or the report's instants, not both"));
        }

        if (!FiscalPeriods.TryParse(period, out var start, out var end))
        {
            return (null, null, Problems.Create(LedgerErrors.ValidationFailed, "period must be a month such as 2025-07"));
        }

        return (await periods.ReportAsync<T>(tenantId, period, kind, ct), (Text(start), Text(end)), null);
    }

    private static string Text(DateTimeOffset time) => time.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>The asset a report of an instant is limited to, and the ledger at that instant (now when absent).</summary>
    private static async Task<(LedgerInstant? At, string? Asset, IResult? Problem)> AsOfAsync(
        LedgerReports ledger, string? asOf, string? asset, TimeProvider clock, CancellationToken ct)
    {
        if (ReadAsset(asset, out var code) is { } bad)
        {
            return (null, null, bad);
        }

        var (at, problem) = await InstantAsync(ledger, asOf ?? Text(LedgerTime.Truncate(clock.GetUtcNow())), "as_of", ct);
        return (at, code, problem);
    }

    /// <summary>The ledger at the instant <paramref name="text"/> says: a time with its offset, not one still to come.</summary>
    private static async Task<(LedgerInstant? At, IResult? Problem)> InstantAsync(LedgerReports ledger, string text, string name, CancellationToken ct)
    {
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return (null, Problems.Create(LedgerErrors.ValidationFailed, $"{name} must be a time such as 2025-07-13T00:00:00Z"));
        }

        return await ledger.InstantAsync(LedgerTime.Truncate(time), ct) is { } at
            ? (at, null)
            : (null, Problems.Create(LedgerErrors.ValidationFailed, $"{name} is still to come: a report is of the ledger as it was"));
    }

    private static async Task<((LedgerInstant From, LedgerInstant To, string? Asset)? Period, IResult? Problem)> PeriodAsync(
        LedgerReports ledger, string? from, string? to, string? asset, CancellationToken ct)
    {
        if (from is null || to is null)
        {
            return (null, Problems.Create(LedgerErrors.ValidationFailed, "from and to are required: the period's start and end, such as 2025-07-01T00:00:00Z"));
        }

        if (ReadAsset(asset, out var code) is { } bad)
        {
            return (null, bad);
        }

        var (start, startProblem) = await InstantAsync(ledger, from, "from", ct);
        if (start is null)
        {
            return (null, startProblem);
        }

        var (end, endProblem) = await InstantAsync(ledger, to, "to", ct);
        if (end is null)
        {
            return (null, endProblem);
        }

        return start.At < end.At
            ? ((start, end, code), null)
            : (null, Problems.Create(LedgerErrors.ValidationFailed, "from must be before to"));
    }

    /// <summary>The asset a report is limited to, in capitals; every asset when absent.</summary>
    private static IResult? ReadAsset(string? asset, out string? code)
    {
        code = asset?.Trim().ToUpperInvariant();
        return code is null || (code.Length is >= 3 and <= 12 && code.All(char.IsAsciiLetterOrDigit))
            ? null
            : Problems.Create(LedgerErrors.ValidationFailed, "asset must be an asset's code, such as USD or GOLD");
    }

    /// <summary>The report as JSON, or as CSV rows when the caller accepts <c>text/csv</c>.</summary>
    private static IResult Answer<T>(HttpRequest http, T report, string[] header, IEnumerable<string[]> rows)
    {
        if (!http.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals(CsvType, StringComparison.OrdinalIgnoreCase)))
        {
            return TypedResults.Ok(report);
        }

        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, new CsvWriterOptions(), leaveOpen: true))
        {
            foreach (var row in rows.Prepend(header))
            {
                foreach (var field in row)
                {
                    csv.WriteField(field);
                }

                csv.EndRecord();
            }
        }

        return Results.Text(text.ToString(), CsvType + "; charset=utf-8");
    }

    /// <summary>The route's 200 is also offered as CSV in its OpenAPI document.</summary>
    private static RouteHandlerBuilder AlsoAsCsv(this RouteHandlerBuilder builder) => builder.AddOpenApiOperationTransformer((operation, _, _) =>
    {
        if (operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse response)
        {
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            response.Content[CsvType] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
        }

        return Task.CompletedTask;
    });
}
