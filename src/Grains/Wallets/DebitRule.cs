using Wallet.Grains.Money;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Whether a wallet may be debited: the one rule a wallet's turn decides with and the group commit
/// checks again against the locked row. A debit needs an active wallet and, unless the wallet may go
/// negative (the treasury, which issues money), at most what it has available: its balance less what
/// open holds keep, plus its overdraft limit (for an account that issues money, its budget).
/// </summary>
internal static class DebitRule
{
    /// <summary>Null when the debit may go ahead; otherwise why not.</summary>
    public static LedgerFailure? Check(string walletId, string status, bool mayGoNegative, long available, long amount, string currency, int scale)
    {
        var display = SystemAccounts.Display(walletId);
        return status switch
        {
            WalletStatuses.Active when mayGoNegative || amount <= available => null,
            // An account that issues money and may not go negative has a budget: available is what is left of it.
            WalletStatuses.Active when SystemAccounts.IssuesMoney(walletId) => new LedgerFailure(LedgerErrors.BudgetExceeded,
                $"{display} has {Amount.Format(Math.Max(available, 0), scale)} {currency} left of its budget; {Amount.Format(amount, scale)} requested"),
            WalletStatuses.Active => new LedgerFailure(LedgerErrors.InsufficientFunds,
                $"wallet {display} has {Amount.Format(available, scale)} {currency} available; {Amount.Format(amount, scale)} requested"),
            WalletStatuses.Frozen => new LedgerFailure(LedgerErrors.WalletFrozen, $"wallet {display} is frozen; debits are refused"),
            _ => new LedgerFailure(LedgerErrors.WalletClosed, $"wallet {display} is closed"),
        };
    }
}
