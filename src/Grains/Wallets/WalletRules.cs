using System.Text.Json;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;

namespace Wallet.Grains.Wallets;

/// <summary>The wallet's decisions as pure functions of its state and a command.</summary>
internal static class WalletRules
{
    public const int OwnerIdLengthMax = 255;

    /// <summary>A new wallet of <paramref name="command"/>; <paramref name="currency"/> is what its currency names for the tenant, null when nothing.</summary>
    public static (WalletState? Wallet, LedgerFailure? Failure) NewWallet(string walletId, CreateWallet command, Currency? currency)
    {
        if (currency is null)
        {
            return (null, CurrencyCatalog.Unknown(command.Currency));
        }

        if (command.OwnerId is { Length: 0 or > OwnerIdLengthMax })
        {
            return Fail(LedgerErrors.ValidationFailed, $"owner_id must be 1 to {OwnerIdLengthMax} characters");
        }

        long overdraft = 0;
        if (command.OverdraftLimit is { } limit && !IsZero(limit))
        {
            var error = Amount.TryParse(limit, currency.Scale, out overdraft);
            if (error != AmountError.None)
            {
                return Fail(LedgerErrors.InvalidAmount, "overdraft_limit: " + Amount.Describe(error, currency.Code, currency.Scale));
            }
        }

        return (new WalletState
        {
            Exists = true,
            Id = walletId,
            TenantId = command.TenantId,
            Currency = currency,
            OwnerId = command.OwnerId,
            OverdraftLimit = overdraft,
            Metadata = command.Metadata,
            CreatedAt = LedgerTime.Truncate(DateTimeOffset.UtcNow),
            Owner = command.Owner,
            ComplianceReview = command.ComplianceReview,
        }, null);
    }

    /// <summary>The status a change leads to from the wallet's status, or why it may not.</summary>
    public static (string Target, LedgerFailure? Failure) StatusChange(WalletState wallet, WalletStatusChange change)
    {
        if (wallet.Status == WalletStatuses.Closed)
        {
            return ("", new LedgerFailure(LedgerErrors.WalletClosed, $"wallet {wallet.Id} is closed"));
        }

        return change switch
        {
            WalletStatusChange.Freeze => (WalletStatuses.Frozen, null),
            WalletStatusChange.Unfreeze => (WalletStatuses.Active, null),
            _ when wallet.Balance != 0 || wallet.Pending != 0 => ("", new LedgerFailure(
                LedgerErrors.InvalidStatusChange,
                $"wallet {wallet.Id} still holds {wallet.Format(wallet.Balance)} {wallet.Currency.Code} ({wallet.Format(wallet.Pending)} pending); move it out before closing")),
            _ => (WalletStatuses.Closed, null),
        };
    }

    public static WalletState WithStatus(WalletState wallet, string status)
    {
        var changed = wallet.Copy();
        changed.Status = status;
        return changed;
    }

    /// <summary>Validates a transfer out of <paramref name="source"/> and builds what to stage and what to answer.</summary>
    public static (StagedTransfer? Transfer, TransferView? View, LedgerFailure? Failure) Stage(WalletState source, TransferCommand command)
    {
        var planned = Plan(source, command, credited: false);
        return planned.Failure is null && source.CheckDebit(planned.Transfer!.Amount) is { } refused ? (null, null, refused) : planned;
    }

    /// <summary>
    /// Validates a transfer that moves <paramref name="wallet"/>'s money (its source, or with
    /// <paramref name="credited"/> its destination, the source being a system account) and builds the
    /// movement and its answer. Funds are not checked here: the movement's transaction decides them.
    /// </summary>
    public static (StagedTransfer? Transfer, TransferView? View, LedgerFailure? Failure) Plan(WalletState wallet, TransferCommand command, bool credited)
    {
        var currency = wallet.Currency;
        if (command.Currency is not null && command.Currency != currency.Code)
        {
            return Reject(LedgerErrors.CurrencyMismatch, $"wallet {wallet.Display} holds {currency.Code}, not {command.Currency}");
        }

        var error = Amount.TryParse(command.Amount, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return Reject(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale));
        }

        var otherId = AccountId(command.TenantId, credited ? command.Source : command.Destination, currency.Code);
        if (otherId == wallet.Id)
        {
            return Reject(LedgerErrors.SameWallet, "source and destination are the same wallet");
        }

        if (!credited && UnderReview(wallet, otherId) is { } review)
        {
            return (null, null, review);
        }

        var (sourceId, destinationId) = credited ? (otherId, wallet.Id) : (wallet.Id, otherId);
        var view = new TransferView(
            command.TransferId,
            SystemAccounts.Display(sourceId),
            SystemAccounts.Display(destinationId),
            Amount.Format(amount, currency.Scale),
            currency.Code,
            "posted",
            command.Reference,
            command.Description,
            command.Metadata,
            command.CreatedAt);
        var staged = new StagedTransfer(
            command.TenantId,
            command.TransferId,
            sourceId,
            destinationId,
            amount,
            currency.Code,
            command.Reference,
            command.Description,
            command.Metadata?.GetRawText(),
            command.Idempotency,
            StoredAnswers.Created(view),
            command.CreatedAt);
        return (staged, view, null);
    }

    /// <summary>
    /// Why a wallet under compliance review may not send money to <paramref name="destinationId"/>:
    /// out of the ledger (a withdrawal, to <c>@settlement</c>) or to another wallet, from which it
    /// could be withdrawn. Null when it may: it is not under review, or the money stays with the
    /// tenant (a spend, a fee).
    /// </summary>
    public static LedgerFailure? UnderReview(WalletState wallet, string destinationId) =>
        wallet.ComplianceReview is { } screening && (!SystemAccounts.IsSystemWalletId(destinationId) || SystemAccounts.Display(destinationId) == "@" + SystemAccounts.Settlement)
            ? new LedgerFailure(LedgerErrors.ComplianceReview,
                $"wallet {wallet.Display} is under compliance review (screening {screening}); its withdrawals and transfers out are refused until the screening is resolved")
            : null;

    /// <summary>The wallet id of <paramref name="account"/>: itself, or the tenant's system account it names in <paramref name="currency"/>.</summary>
    public static string AccountId(string tenantId, string account, string currency) =>
        SystemAccounts.TryParseReference(account, out var name) ? SystemAccounts.WalletId(tenantId, name, currency) : account;

    internal static bool IsZero(string text) => decimal.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value) && value == 0;

    private static (WalletState?, LedgerFailure?) Fail(string code, string detail) => (null, new LedgerFailure(code, detail));

    private static (StagedTransfer?, TransferView?, LedgerFailure?) Reject(string code, string detail) => (null, null, new LedgerFailure(code, detail));
}
