namespace Wallet.Grains.Wallets;

/// <summary>
/// What compliance changes on a wallet's row without a movement: its owner (pseudonymised by an
/// erasure) and the screening it is under review for, read again when told.
/// </summary>
internal sealed partial class WalletGrain
{
    public Task RefreshCompliance() => Turn(async () =>
    {
        if (State.Exists && await wallets.ReadComplianceAsync(Id, CancellationToken.None) is var (owner, review))
        {
            State.Owner = owner;
            State.ComplianceReview = review;
        }

        return true;
    });
}
