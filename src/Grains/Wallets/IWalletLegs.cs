using Orleans;

namespace Wallet.Grains.Wallets;

/// <summary>
/// The part of a movement that another wallet's transaction asks of this one: a transfer's credit,
/// or one leg of a multi-leg entry. The wallet that runs a movement posts its own leg itself.
/// </summary>
[Alias("wallet.IWalletLegs")]
internal interface IWalletLegs : IGrainWithStringKey
{
    /// <summary>
    /// Posts to the wallet within the caller's transaction, a debit checked as every debit is; the
    /// refusal when it may not be posted.
    /// </summary>
    [Transaction(TransactionOption.Join)]
    [Alias("Post")]
    Task<LedgerFailure?> Post(WalletPosting posting);
}

/// <summary>
/// <see cref="Amount"/> minor units posted to the wallet (negative: a debit) as part of entry
/// <see cref="EntryId"/>, in <see cref="Currency"/>, which the wallet must hold.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.WalletPosting")]
internal sealed record WalletPosting(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string EntryId,
    [property: Id(2)] long Amount,
    [property: Id(3)] string Currency);
