using Orleans;

namespace Wallet.Grains.Wallets;

/// <summary>
/// The part of a movement that another wallet's transaction asks of this one. Only credits: the
/// wallet a movement debits always runs it, so its own leg never crosses a grain boundary.
/// </summary>
[Alias("wallet.IWalletLegs")]
internal interface IWalletLegs : IGrainWithStringKey
{
    /// <summary>Credits the wallet within the caller's transaction; the refusal when it may not be credited.</summary>
    [Transaction(TransactionOption.Join)]
    [Alias("Credit")]
    Task<LedgerFailure?> Credit(WalletCredit credit);
}

/// <summary>A credit of <see cref="Amount"/> minor units to the wallet, as part of entry <see cref="EntryId"/>.</summary>
[GenerateSerializer, Immutable, Alias("wallet.WalletCredit")]
internal sealed record WalletCredit(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string EntryId,
    [property: Id(2)] long Amount,
    [property: Id(3)] string Currency);
