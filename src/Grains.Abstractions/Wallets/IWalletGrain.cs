using Orleans;
using Wallet.Grains.Holds;

namespace Wallet.Grains.Wallets;

/// <summary>
/// One wallet, or one system account of a tenant (key <c>sys:{tenant}:{name}:{currency}</c>).
/// Every debit of the wallet is decided in one of its turns.
/// </summary>
[Alias("wallet.IWalletGrain")]
public interface IWalletGrain : IGrainWithStringKey
{
    [Alias("Create")]
    Task<WalletResult> Create(CreateWallet command);

    [Alias("Get")]
    Task<WalletResult> Get(string tenantId);

    /// <summary>
    /// Reads the wallet's owner and compliance review again from its row, after compliance changed
    /// them there (a screening put it under review or resolved it; an erasure pseudonymised its owner).
    /// </summary>
    [Alias("RefreshCompliance")]
    Task RefreshCompliance();

    [Alias("ChangeStatus")]
    Task<WalletResult> ChangeStatus(ChangeWalletStatus command);

    /// <summary>Moves money out of this wallet. The credit to the destination commits in the same transaction.</summary>
    [Alias("Transfer")]
    Task<TransferResult> Transfer(TransferCommand command);

    /// <summary>
    /// Posts a multi-leg entry this wallet takes part in (<see cref="EntryCommand.Coordinator"/>):
    /// every leg in one transaction, all or nothing.
    /// </summary>
    [Alias("PostEntry")]
    Task<EntryResult> PostEntry(EntryCommand command);

    /// <summary>Holds money of this wallet: <c>pending</c> rises and <c>available</c> falls until capture, void or expiry.</summary>
    [Alias("PlaceHold")]
    Task<HoldResult> PlaceHold(PlaceHold command);

    /// <summary>Captures some or all of an open hold into its destination, as a transfer.</summary>
    [Alias("CaptureHold")]
    Task<HoldResult> CaptureHold(CaptureHold command);

    /// <summary>Releases some or all of an open hold: void, reversal or expiry.</summary>
    [Alias("ReleaseHold")]
    Task<HoldResult> ReleaseHold(ReleaseHold command);

    /// <summary>Raises an open hold, if the wallet has the difference available.</summary>
    [Alias("IncrementHold")]
    Task<HoldResult> IncrementHold(IncrementHold command);

    /// <summary>
    /// Tells the wallet of a credit another wallet's turn committed; answered once applied, so the
    /// transfer's reply can wait for it. Losing one is harmless.
    /// </summary>
    [Alias("OnCredited")]
    Task OnCredited(CreditNotice notice);

    /// <summary>
    /// The budget of an account that issues money (<c>@treasury</c>, <c>@promotions</c>): how much
    /// it may have issued at most, or no limit. Sets it when <paramref name="command"/> has
    /// <see cref="BudgetCommand.Set"/>, and answers it either way.
    /// </summary>
    [Alias("Budget")]
    Task<BudgetResult> Budget(BudgetCommand command);
}
