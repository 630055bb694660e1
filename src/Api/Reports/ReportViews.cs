using Wallet.Grains.Money;
using Wallet.Grains.Reports;

namespace Wallet.Api.Reports;

/// <summary>One account's line of a trial balance: its balance in the debit or the credit column.</summary>
public sealed record TrialBalanceLine(string Account, string Type, string Debit, string Credit);

public sealed record TrialBalanceOfAsset(string Asset, IReadOnlyList<TrialBalanceLine> Accounts, string Debits, string Credits, bool Balanced);

public sealed record TrialBalanceReport(DateTimeOffset AsOf, long LedgerSeq, IReadOnlyList<TrialBalanceOfAsset> ByAsset);

/// <summary>An account's figure in a report, as its type reads it (an asset's debit balance is positive).</summary>
public sealed record ReportLine(string Account, string Type, string Amount);

/// <summary>The balance sheet's check: assets equal liabilities and equity, or by how much they do not.</summary>
public sealed record BalanceCheck(string Assets, string LiabilitiesAndEquity, string Difference, bool Balanced);

public sealed record BalanceSheetOfAsset(
    string Asset, IReadOnlyList<ReportLine> Assets, IReadOnlyList<ReportLine> Liabilities, IReadOnlyList<ReportLine> Equity,
    string TotalAssets, string TotalLiabilities, string TotalEquity, BalanceCheck Check);

public sealed record BalanceSheetReport(DateTimeOffset AsOf, long LedgerSeq, IReadOnlyList<BalanceSheetOfAsset> ByAsset);

public sealed record IncomeStatementOfAsset(
    string Asset, IReadOnlyList<ReportLine> Income, IReadOnlyList<ReportLine> Expenses, string TotalIncome, string TotalExpenses, string NetIncome);

public sealed record IncomeStatementReport(DateTimeOffset From, DateTimeOffset To, long FromSeq, long ToSeq, IReadOnlyList<IncomeStatementOfAsset> ByAsset);

/// <summary>An account money moves through: its balance at the start and the end (as its type reads it), and what it was debited and credited between.</summary>
public sealed record CashFlowLine(string Account, string Type, string Opening, string Debits, string Credits, string Closing, string Change);

public sealed record CashFlowOfAsset(string Asset, IReadOnlyList<CashFlowLine> Accounts);

public sealed record CashFlowReport(DateTimeOffset From, DateTimeOffset To, long FromSeq, long ToSeq, IReadOnlyList<CashFlowOfAsset> ByAsset);

/// <summary>The reports made from the ledger's balances and movements (<see cref="LedgerReports"/>): one section per asset.</summary>
public static class ReportBuilder
{
    public static TrialBalanceReport TrialBalance(LedgerInstant at, IReadOnlyList<AccountBalance> balances) => new(at.At, at.Seq,
        [.. balances.GroupBy(b => (b.Asset, b.Scale)).Select(asset =>
        {
            var lines = asset.Select(b => new TrialBalanceLine(b.Account, b.Type, Money(Math.Max(-b.Balance, 0), b.Scale), Money(Math.Max(b.Balance, 0), b.Scale))).ToList();
            var (debits, credits) = (asset.Sum(b => Math.Max(-b.Balance, 0)), asset.Sum(b => Math.Max(b.Balance, 0)));
            return new TrialBalanceOfAsset(asset.Key.Asset, lines, Money(debits, asset.Key.Scale), Money(credits, asset.Key.Scale), debits == credits);
        })]);

    public static BalanceSheetReport BalanceSheet(LedgerInstant at, IReadOnlyList<AccountBalance> balances) => new(at.At, at.Seq,
        [.. balances.GroupBy(b => (b.Asset, b.Scale)).Select(asset =>
        {
            var scale = asset.Key.Scale;
            ReportLine Line(AccountBalance b) => new(b.Account, b.Type, Money(AccountTypes.Natural(b.Type, b.Balance), scale));
            var assets = asset.Where(b => b.Type == AccountTypes.Asset).ToList();
            var liabilities = asset.Where(b => b.Type is AccountTypes.Liability or AccountTypes.Clearing).ToList();
            // What the tenant earned less what it spent, kept: the equity the ledger holds.
            var earned = asset.Where(b => b.Type is AccountTypes.Income or AccountTypes.Expense)
                .Sum(b => b.Type == AccountTypes.Income ? AccountTypes.Natural(b.Type, b.Balance) : -AccountTypes.Natural(b.Type, b.Balance));
            var totalAssets = assets.Sum(b => AccountTypes.Natural(b.Type, b.Balance));
            var totalLiabilities = liabilities.Sum(b => AccountTypes.Natural(b.Type, b.Balance));
            var difference = totalAssets - (totalLiabilities + earned);
            return new BalanceSheetOfAsset(asset.Key.Asset, [.. assets.Select(Line)], [.. liabilities.Select(Line)],
                [new ReportLine("retained_earnings", AccountTypes.Equity, Money(earned, scale))],
                Money(totalAssets, scale), Money(totalLiabilities, scale), Money(earned, scale),
                new BalanceCheck(Money(totalAssets, scale), Money(totalLiabilities + earned, scale), Money(difference, scale), difference == 0));
        })]);

    public static IncomeStatementReport IncomeStatement(LedgerInstant from, LedgerInstant to, IReadOnlyList<AccountMovement> movements) =>
        new(from.At, to.At, from.Seq, to.Seq,
        [.. movements.Where(m => m.Type is AccountTypes.Income or AccountTypes.Expense).GroupBy(m => (m.Asset, m.Scale)).Select(asset =>
        {
            var scale = asset.Key.Scale;
            var income = asset.Where(m => m.Type == AccountTypes.Income).Select(m => (m.Account, m.Type, Amount: m.Credits - m.Debits)).ToList();
            var expenses = asset.Where(m => m.Type == AccountTypes.Expense).Select(m => (m.Account, m.Type, Amount: m.Debits - m.Credits)).ToList();
            var (totalIncome, totalExpenses) = (income.Sum(l => l.Amount), expenses.Sum(l => l.Amount));
            return new IncomeStatementOfAsset(asset.Key.Asset,
                [.. income.Select(l => new ReportLine(l.Account, l.Type, Money(l.Amount, scale)))],
                [.. expenses.Select(l => new ReportLine(l.Account, l.Type, Money(l.Amount, scale)))],
                Money(totalIncome, scale), Money(totalExpenses, scale), Money(totalIncome - totalExpenses, scale));
        })]);

    /// <summary>Money through the treasury (cash in and out) and the settlement account (money on its way out), with each one's balance at both ends.</summary>
    public static CashFlowReport CashFlow(
        LedgerInstant from, LedgerInstant to, IReadOnlyList<AccountBalance> opening, IReadOnlyList<AccountBalance> closing, IReadOnlyList<AccountMovement> movements)
    {
        static bool Through(string type) => type is AccountTypes.Asset or AccountTypes.Clearing;
        var keys = opening.Concat(closing).Where(b => Through(b.Type) && b.Account != AccountTypes.WalletsOverdrawn)
            .Select(b => (b.Asset, b.Scale, b.Account, b.Type)).Distinct().OrderBy(k => k.Asset, StringComparer.Ordinal).ThenBy(k => k.Account, StringComparer.Ordinal);
        long BalanceIn(IReadOnlyList<AccountBalance> balances, string asset, string account, string type) =>
            balances.FirstOrDefault(b => b.Asset == asset && b.Account == account) is { } found ? AccountTypes.Natural(type, found.Balance) : 0;
        return new CashFlowReport(from.At, to.At, from.Seq, to.Seq,
            [.. keys.GroupBy(k => (k.Asset, k.Scale)).Select(asset => new CashFlowOfAsset(asset.Key.Asset, [.. asset.Select(k =>
            {
                var moved = movements.FirstOrDefault(m => m.Asset == k.Asset && m.Account == k.Account);
                var (start, end) = (BalanceIn(opening, k.Asset, k.Account, k.Type), BalanceIn(closing, k.Asset, k.Account, k.Type));
                return new CashFlowLine(k.Account, k.Type, Money(start, k.Scale), Money(moved?.Debits ?? 0, k.Scale), Money(moved?.Credits ?? 0, k.Scale),
                    Money(end, k.Scale), Money(end - start, k.Scale));
            })]))]);
    }

    private static string Money(long minorUnits, int scale) => Amount.Format(minorUnits, scale);
}
