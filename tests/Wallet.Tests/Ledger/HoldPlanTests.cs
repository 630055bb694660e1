using Wallet.Grains;
using Wallet.Grains.Holds;
using Wallet.Grains.Ledger;
using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>
/// How <see cref="LedgerBatch.Plan"/> decides hold moves over the rows a batch locked: the same
/// decisions a wallet's turn takes, taken again against the truth. Pure; no PostgreSQL.
/// </summary>
public sealed class HoldPlanTests
{
    private const string Tenant = "t1";
    private const string Settlement = "sys:t1:settlement:USD";
    private static readonly DateTimeOffset At = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Plan_PlaceWithinAvailable_RaisesPendingAndInsertsTheHold()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 300);

        var batch = Plan([Move(HoldMove.Place, "h1", 700)], [wallet]);

        Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
        Assert.Equal((1_000L, 1_000L, 700L, true), (wallet.Balance, wallet.Pending, wallet.PendingDelta, wallet.Debited));
        Assert.Equal("h1", Assert.Single(batch.PlacedHolds).HoldId);
        Assert.Empty(batch.Entries);
        Assert.Equal([wallet], batch.ChangedWallets);
    }

    [Fact]
    public void Plan_PlaceBeyondAvailable_RejectsAsInsufficientFundsAndChangesNothing()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 300);

        var batch = Plan([Move(HoldMove.Place, "h1", 701)], [wallet]);

        Assert.Equal(LedgerErrors.InsufficientFunds, Assert.Single(batch.Outcomes).Failure?.Code);
        Assert.Equal(300, wallet.Pending);
        Assert.Empty(batch.PlacedHolds);
        Assert.Empty(batch.ChangedWallets);
    }

    [Theory]
    [InlineData(WalletStatuses.Frozen, LedgerErrors.WalletFrozen)]
    [InlineData(WalletStatuses.Closed, LedgerErrors.WalletClosed)]
    public void Plan_PlaceOnWalletNotActive_Rejects(string status, string code)
    {
        var batch = Plan([Move(HoldMove.Place, "h1", 1)], [Wallet("w1", balance: 100, status: status)]);
        Assert.Equal(code, Assert.Single(batch.Outcomes).Failure?.Code);
    }

    [Fact]
    public void Plan_TwoPlacesInOneBatch_SecondSeesTheFirstsPending()
    {
        var wallet = Wallet("w1", balance: 100);

        var batch = Plan([Move(HoldMove.Place, "h1", 100), Move(HoldMove.Place, "h2", 100)], [wallet]);

        Assert.Equal(CommitStatus.Committed, batch.Outcomes[0].Status);
        Assert.Equal(LedgerErrors.InsufficientFunds, batch.Outcomes[1].Failure?.Code);
        Assert.Equal(100, wallet.Pending);
    }

    [Fact]
    public void Plan_TransferAfterPlaceInOneBatch_CountsThePending()
    {
        var wallet = Wallet("w1", balance: 100);
        var transfer = new StagedTransfer(Tenant, "tr1", "w1", Settlement, 1, "USD", null, null, null, null, null, At);

        var batch = Plan([Move(HoldMove.Place, "h1", 100), transfer], [wallet, Wallet(Settlement)]);

        Assert.Equal(LedgerErrors.InsufficientFunds, batch.Outcomes[1].Failure?.Code);
    }

    [Fact]
    public void Plan_PartialThenFinalCapture_PostsEachAndReleasesTheRest()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 500);
        var settlement = Wallet(Settlement);
        var hold = Hold("h1", amount: 500);

        var batch = Plan(
            [Move(HoldMove.Capture, "h1", 200, transferId: "tr1"), Move(HoldMove.Capture, "h1", 100, final: true, transferId: "tr2")],
            [wallet, settlement], [hold]);

        Assert.All(batch.Outcomes, o => Assert.Equal(CommitStatus.Committed, o.Status));
        Assert.Equal((700L, 0L), (wallet.Balance, wallet.Pending));
        Assert.Equal(300, settlement.Balance);
        Assert.Equal((500L, 300L, HoldStatuses.Captured, At), (hold.Amount, hold.Captured, hold.Status, hold.ClosedAt!.Value));
        Assert.Equal(["tr1", "tr2"], batch.Entries.Select(e => e.Transfer.TransferId));
        Assert.All(batch.Entries, e => Assert.Equal("h1", e.Transfer.HoldId));
        Assert.Equal(0, batch.Postings.Sum(p => p.Amount));
        Assert.False(wallet.Debited, "a capture takes funds already held, so a frozen wallet may still be captured from");
        Assert.Equal([hold], batch.ChangedHolds);
    }

    [Fact]
    public void Plan_CapturesBeyondTheHold_RejectTheOneThatDoesNotFit()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 100);
        var hold = Hold("h1", amount: 100);
        var captures = Enumerable.Range(0, 15).Select(i => (LedgerItem)Move(HoldMove.Capture, "h1", 10, transferId: $"tr{i}")).ToArray();

        var batch = Plan(captures, [wallet, Wallet(Settlement)], [hold]);

        Assert.Equal(10, batch.Outcomes.Count(o => o.Status == CommitStatus.Committed));
        Assert.All(batch.Outcomes.Skip(10), o => Assert.Equal(LedgerErrors.HoldClosed, o.Failure?.Code));
        Assert.Equal((100L, HoldStatuses.Captured), (hold.Captured, hold.Status));
        Assert.Equal((900L, 0L), (wallet.Balance, wallet.Pending));
    }

    [Fact]
    public void Plan_CaptureMoreThanHeld_RejectsAsAmountExceedsHold()
    {
        var hold = Hold("h1", amount: 100, captured: 60);
        var batch = Plan([Move(HoldMove.Capture, "h1", 41)], [Wallet("w1", balance: 1_000, pending: 40), Wallet(Settlement)], [hold]);
        Assert.Equal(LedgerErrors.AmountExceedsHold, Assert.Single(batch.Outcomes).Failure?.Code);
        Assert.Equal(60, hold.Captured);
    }

    [Fact]
    public void Plan_VoidOfPartlyCapturedHold_ReleasesWhatRemainsAndKeepsTheAmount()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 40);
        var hold = Hold("h1", amount: 100, captured: 60);

        var batch = Plan([Move(HoldMove.Release, "h1", 40)], [wallet], [hold]);

        Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
        Assert.Equal((0L, -40L), (wallet.Pending, wallet.PendingDelta));
        Assert.Equal((100L, 60L, HoldStatuses.Voided), (hold.Amount, hold.Captured, hold.Status));
    }

    [Fact]
    public void Plan_PartialReversal_LowersTheAmountAndKeepsTheHoldOpen()
    {
        var wallet = Wallet("w1", balance: 1_000, pending: 100);
        var hold = Hold("h1", amount: 100);

        Plan([Move(HoldMove.Release, "h1", 30)], [wallet], [hold]);

        Assert.Equal((70L, HoldStatuses.Open, 70L), (hold.Amount, hold.Status, wallet.Pending));
    }

    [Fact]
    public void Plan_ExpiryOfClosedHold_RejectsAsHoldClosed()
    {
        var hold = Hold("h1", amount: 100, status: HoldStatuses.Captured);
        var batch = Plan([Move(HoldMove.Release, "h1", 100, closeStatus: HoldStatuses.Expired)], [Wallet("w1", balance: 1_000)], [hold]);
        Assert.Equal(LedgerErrors.HoldClosed, Assert.Single(batch.Outcomes).Failure?.Code);
        Assert.Empty(batch.ChangedHolds);
    }

    [Fact]
    public void Plan_IncrementBeyondAvailable_RejectsAndLeavesTheHold()
    {
        var wallet = Wallet("w1", balance: 150, pending: 100);
        var hold = Hold("h1", amount: 100);

        var batch = Plan([Move(HoldMove.Increment, "h1", 51)], [wallet], [hold]);

        Assert.Equal(LedgerErrors.InsufficientFunds, Assert.Single(batch.Outcomes).Failure?.Code);
        Assert.Equal((100L, 100L), (hold.Amount, wallet.Pending));
    }

    [Fact]
    public void Plan_MoveOfAnotherTenantsHold_RejectsAsHoldNotFound()
    {
        var hold = new LockedHold("h1", "t2", "w1", Settlement, "USD", 100, 0, HoldStatuses.Open);
        var batch = Plan([Move(HoldMove.Capture, "h1", 10)], [Wallet("w1", balance: 1_000, pending: 100), Wallet(Settlement)], [hold]);
        Assert.Equal(LedgerErrors.HoldNotFound, Assert.Single(batch.Outcomes).Failure?.Code);
    }

    private static LedgerBatch Plan(LedgerItem[] items, LockedWallet[] wallets, LockedHold[]? holds = null) =>
        LedgerBatch.Plan(items, new BatchSnapshot(
            wallets.ToDictionary(w => w.Id, StringComparer.Ordinal),
            new HashSet<(string, string)>(),
            new HashSet<(string, string)>(),
            LastSeq: 0,
            (holds ?? []).ToDictionary(h => h.Id, StringComparer.Ordinal)));

    private static StagedHold Move(
        HoldMove move, string holdId, long amount, bool final = false, string? transferId = null, string closeStatus = HoldStatuses.Voided) =>
        new(move, Tenant, holdId, "w1", Settlement, amount, "USD", null, null, At)
        {
            Final = final,
            TransferId = transferId ?? "tr-" + holdId,
            CloseStatus = closeStatus,
            ExpiresAt = At.AddDays(7),
        };

    private static LockedHold Hold(string id, long amount, long captured = 0, string status = HoldStatuses.Open) =>
        new(id, Tenant, "w1", Settlement, "USD", amount, captured, status);

    private static LockedWallet Wallet(string id, long balance = 0, long pending = 0, string status = WalletStatuses.Active) =>
        new(id, Tenant, "USD", 2, status, balance, 0, mayGoNegative: false, version: 0) { Pending = pending };
}
