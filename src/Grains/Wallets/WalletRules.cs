using System.Text.Json;
using Wallet.Grains.Ledger;
using Wallet.Grains.Money;

namespace Wallet.Grains.Wallets;

/// <summary>The wallet's decisions as pure functions of its state and a command.</summary>
internal static class WalletRules
{
    public const int OwnerIdLengthMax = 255;

    public static (WalletState? Wallet, LedgerFailure? Failure) NewWallet(string walletId, CreateWallet command, CurrencyCatalog currencies)
    {
        if (!currencies.TryGet(command.Currency, out var currency))
        {
            return Fail(LedgerErrors.UnknownCurrency, $"currency '{command.Currency}' is not an ISO 4217 code or a configured asset");
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
        var currency = source.Currency;
        if (command.Currency is not null && command.Currency != currency.Code)
        {
            return Reject(LedgerErrors.CurrencyMismatch, $"wallet {source.Display} holds {currency.Code}, not {command.Currency}");
        }

        var error = Amount.TryParse(command.Amount, currency.Scale, out var amount);
        if (error != AmountError.None)
        {
            return Reject(LedgerErrors.InvalidAmount, Amount.Describe(error, currency.Code, currency.Scale));
        }

        var destinationId = SystemAccounts.TryParseReference(command.Destination, out var name)
            ? SystemAccounts.WalletId(command.TenantId, name, currency.Code)
            : command.Destination;
        if (destinationId == source.Id)
        {
            return Reject(LedgerErrors.SameWallet, "source and destination are the same wallet");
        }

        if (source.CheckDebit(amount) is { } refused)
        {
            return (null, null, refused);
        }

        var view = new TransferView(
            command.TransferId,
            source.Display,
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
            source.Id,
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

    private static bool IsZero(string text) => decimal.TryParse(text, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var value) && value == 0;

    private static (WalletState?, LedgerFailure?) Fail(string code, string detail) => (null, new LedgerFailure(code, detail));

    private static (StagedTransfer?, TransferView?, LedgerFailure?) Reject(string code, string detail) => (null, null, new LedgerFailure(code, detail));
}
