using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Wallet.Grains;
using Wallet.Grains.Money;
using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>The wallet grain's decisions, as pure functions of a state and a command.</summary>
public sealed class WalletRulesTests
{
    private const string Tenant = "t1";
    private const string WalletId = "wal_source";

    private static readonly Currency Usd = new("USD", 2);

    private static readonly string[] Statuses = [WalletStatuses.Active, WalletStatuses.Frozen, WalletStatuses.Closed];

    // ---- status transitions ----

    [Theory]
    [InlineData(WalletStatuses.Active, WalletStatusChange.Freeze, WalletStatuses.Frozen)]
    [InlineData(WalletStatuses.Frozen, WalletStatusChange.Freeze, WalletStatuses.Frozen)]
    [InlineData(WalletStatuses.Frozen, WalletStatusChange.Unfreeze, WalletStatuses.Active)]
    [InlineData(WalletStatuses.Active, WalletStatusChange.Unfreeze, WalletStatuses.Active)]
    [InlineData(WalletStatuses.Active, WalletStatusChange.Close, WalletStatuses.Closed)]
    [InlineData(WalletStatuses.Frozen, WalletStatusChange.Close, WalletStatuses.Closed)]
    public void StatusChange_OpenEmptyWallet_GoesToTheTarget(string status, WalletStatusChange change, string expected)
    {
        var (target, failure) = WalletRules.StatusChange(State(status: status), change);
        Assert.Null(failure);
        Assert.Equal(expected, target);
    }

    [Theory]
    [InlineData(WalletStatusChange.Freeze)]
    [InlineData(WalletStatusChange.Unfreeze)]
    [InlineData(WalletStatusChange.Close)]
    public void StatusChange_ClosedWallet_RefusesAsWalletClosed(WalletStatusChange change)
    {
        var (target, failure) = WalletRules.StatusChange(State(status: WalletStatuses.Closed, balance: 0), change);
        Assert.Equal(LedgerErrors.WalletClosed, failure?.Code);
        Assert.Equal("", target);
    }

    [Theory]
    [InlineData(WalletStatuses.Active, 1, 0)]
    [InlineData(WalletStatuses.Active, -1, 0)]
    [InlineData(WalletStatuses.Frozen, 14_999, 0)]
    [InlineData(WalletStatuses.Active, 0, 500)]
    public void StatusChange_CloseWithMoneyInside_RefusesAsInvalidStatusChange(string status, long balance, long pending)
    {
        var (target, failure) = WalletRules.StatusChange(State(status: status, balance: balance, pending: pending), WalletStatusChange.Close);
        Assert.Equal(LedgerErrors.InvalidStatusChange, failure?.Code);
        Assert.Contains(WalletId, failure!.Detail, StringComparison.Ordinal);
        Assert.Equal("", target);
    }

    [Fact]
    public void StatusChange_AnyWallet_FollowsTheTransitionTable()
    {
        var cases =
            from status in Gen.Elements(Statuses)
            from change in Gen.Elements(Enum.GetValues<WalletStatusChange>())
            from balance in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(-1_000, 1_000)))
            from pending in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(0, 1_000)))
            select (status, change, balance, pending);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var wallet = State(status: c.status, balance: c.balance, pending: c.pending);
            var (target, failure) = WalletRules.StatusChange(wallet, c.change);
            var expected =
                c.status == WalletStatuses.Closed ? LedgerErrors.WalletClosed
                : c.change == WalletStatusChange.Freeze ? WalletStatuses.Frozen
                : c.change == WalletStatusChange.Unfreeze ? WalletStatuses.Active
                : c.balance != 0 || c.pending != 0 ? LedgerErrors.InvalidStatusChange
                : WalletStatuses.Closed;
            Assert.Equal(expected, failure?.Code ?? target);
            Assert.Equal(c.status, wallet.Status); // deciding changes nothing
        }));
    }

    [Fact]
    public void WithStatus_Wallet_ReturnsAChangedCopyAndLeavesTheOriginal()
    {
        var wallet = State(balance: 700);
        var frozen = WalletRules.WithStatus(wallet, WalletStatuses.Frozen);
        Assert.Equal(WalletStatuses.Frozen, frozen.Status);
        Assert.Equal(WalletStatuses.Active, wallet.Status);
        Assert.Equal((wallet.Id, wallet.Balance), (frozen.Id, frozen.Balance));
    }

    // ---- staging a transfer ----

    [Fact]
    public void Stage_ValidTransferToASystemAccount_StagesExactMinorUnitsAndTheView()
    {
        var source = State(balance: 20_000);
        var command = Command("@revenue", "149.99", reference: "order-7", idempotency: new IdempotencyRequest("key-1", "hash"));

        var (staged, view, failure) = WalletRules.Stage(source, command);

        Assert.Null(failure);
        Assert.NotNull(staged);
        Assert.Equal((Tenant, command.TransferId, WalletId, "sys:t1:revenue:USD", 14_999L, "USD", "order-7"),
            (staged.TenantId, staged.TransferId, staged.SourceId, staged.DestinationId, staged.Amount, staged.Currency, staged.Reference));
        Assert.Equal(command.Idempotency, staged.Idempotency);
        Assert.NotNull(view);
        Assert.Equal((WalletId, "@revenue", "149.99", "USD", "posted"), (view.Source, view.Destination, view.Amount, view.Currency, view.Status));
        Assert.Equal(StoredAnswers.Created(view), staged.Answer);
        Assert.Equal(20_000, source.Balance); // staging decides; the grain applies the debit
    }

    [Fact]
    public void Stage_ToAnotherWallet_KeepsItsId()
    {
        var (staged, _, failure) = WalletRules.Stage(State(balance: 100), Command("wal_other", "1"));
        Assert.Null(failure);
        Assert.Equal("wal_other", staged!.DestinationId);
    }

    [Fact]
    public void Stage_DestinationIsTheSourceWallet_RefusesAsSameWallet()
    {
        var (staged, _, failure) = WalletRules.Stage(State(balance: 100), Command(WalletId, "1"));
        Assert.Equal(LedgerErrors.SameWallet, failure?.Code);
        Assert.Null(staged);
    }

    [Fact]
    public void Stage_SystemAccountToItself_RefusesAsSameWallet()
    {
        var treasury = State(id: SystemAccounts.WalletId(Tenant, SystemAccounts.Treasury, "USD"), mayGoNegative: true);
        var (staged, _, failure) = WalletRules.Stage(treasury, Command("@treasury", "1"));
        Assert.Equal(LedgerErrors.SameWallet, failure?.Code);
        Assert.Null(staged);
    }

    [Fact]
    public void Stage_CurrencyOtherThanTheWallets_RefusesAsCurrencyMismatch()
    {
        var (staged, _, failure) = WalletRules.Stage(State(balance: 100), Command("wal_other", "1", currency: "EUR"));
        Assert.Equal(LedgerErrors.CurrencyMismatch, failure?.Code);
        Assert.Null(staged);
    }

    [Fact]
    public void Stage_CurrencyOfTheWallet_IsAccepted()
    {
        var (_, _, failure) = WalletRules.Stage(State(balance: 100), Command("wal_other", "1", currency: "USD"));
        Assert.Null(failure);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0.00")]
    [InlineData("-5")]
    [InlineData("1.001")]
    [InlineData("abc")]
    [InlineData("1e3")]
    [InlineData("")]
    [InlineData(".5")]
    [InlineData("10000000000000.01")]
    public void Stage_BadAmount_RefusesAsInvalidAmount(string amount)
    {
        var (staged, _, failure) = WalletRules.Stage(State(balance: long.MaxValue / 8), Command("wal_other", amount));
        Assert.Equal(LedgerErrors.InvalidAmount, failure?.Code);
        Assert.Equal(Amount.Describe(Amount.TryParse(amount, 2, out _), "USD", 2), failure!.Detail);
        Assert.Null(staged);
    }

    [Theory]
    [InlineData(WalletStatuses.Frozen, LedgerErrors.WalletFrozen)]
    [InlineData(WalletStatuses.Closed, LedgerErrors.WalletClosed)]
    public void Stage_SourceNotActive_RefusesTheDebit(string status, string code)
    {
        var (staged, _, failure) = WalletRules.Stage(State(status: status, balance: 10_000), Command("wal_other", "1"));
        Assert.Equal(code, failure?.Code);
        Assert.Null(staged);
    }

    [Theory]
    [InlineData(100, 0, 0, "1.00", true)]
    [InlineData(100, 0, 0, "1.01", false)]
    [InlineData(100, 30, 0, "0.70", true)]
    [InlineData(100, 30, 0, "0.71", false)]
    [InlineData(100, 0, 50, "1.50", true)]
    [InlineData(100, 0, 50, "1.51", false)]
    [InlineData(0, 0, 0, "0.01", false)]
    public void Stage_AmountAgainstAvailable_RefusesOnlyBeyondIt(long balance, long pending, long overdraft, string amount, bool staged)
    {
        var (transfer, _, failure) = WalletRules.Stage(State(balance: balance, pending: pending, overdraftLimit: overdraft), Command("wal_other", amount));
        Assert.Equal(staged, transfer is not null);
        Assert.Equal(staged ? null : LedgerErrors.InsufficientFunds, failure?.Code);
    }

    [Fact]
    public void Stage_SourceThatMayGoNegative_IsNeverShortOfFunds()
    {
        var treasury = State(id: SystemAccounts.WalletId(Tenant, SystemAccounts.Treasury, "USD"), balance: -5_000, mayGoNegative: true);
        var (staged, view, failure) = WalletRules.Stage(treasury, Command("wal_other", "10000000000000"));
        Assert.Null(failure);
        Assert.Equal(Amount.MinorUnitsMax, staged!.Amount);
        Assert.Equal("@treasury", view!.Source);
    }

    [Fact]
    public void Stage_RandomAmounts_StagesExactlyWhatAvailableCovers()
    {
        var cases =
            from balance in Gen.Choose(0, 100_000)
            from pending in Gen.Choose(0, balance)
            from overdraft in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(0, 10_000)))
            from amount in Gen.Choose(1, 120_000)
            select (balance, pending, overdraft, amount);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1_000), Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var source = State(balance: c.balance, pending: c.pending, overdraftLimit: c.overdraft);
            var (staged, _, failure) = WalletRules.Stage(source, Command("wal_other", Amount.Format(c.amount, 2)));
            if (c.amount <= c.balance - c.pending + c.overdraft)
            {
                Assert.Null(failure);
                Assert.Equal(c.amount, staged!.Amount);
            }
            else
            {
                Assert.Equal(LedgerErrors.InsufficientFunds, failure?.Code);
            }

            Assert.Equal(c.balance, source.Balance);
        }));
    }

    // ---- creating a wallet ----

    [Fact]
    public void NewWallet_KnownCurrencyAndOverdraft_BuildsTheState()
    {
        var (wallet, failure) = WalletRules.NewWallet("wal_new", Create("KWD", overdraft: "1.5", ownerId: "user-1"), Known("KWD"));
        Assert.Null(failure);
        Assert.Equal(("wal_new", Tenant, "KWD", 3, 1_500L, "user-1", WalletStatuses.Active, 0L), (wallet!.Id, wallet.TenantId, wallet.Currency.Code, wallet.Currency.Scale, wallet.OverdraftLimit, wallet.OwnerId, wallet.Status, wallet.Balance));
        Assert.True(wallet.Exists);
        Assert.False(wallet.MayGoNegative);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0.00")]
    [InlineData(null)]
    public void NewWallet_ZeroOrNoOverdraft_HasNone(string? overdraft)
    {
        var (wallet, failure) = WalletRules.NewWallet("wal_new", Create("USD", overdraft: overdraft), Known("USD"));
        Assert.Null(failure);
        Assert.Equal(0, wallet!.OverdraftLimit);
    }

    [Fact]
    public void NewWallet_CustomAsset_UsesItsScale()
    {
        var (wallet, failure) = WalletRules.NewWallet("wal_new", Create("GOLD", overdraft: "0.001"), Known("GOLD", ("GOLD", "3")));
        Assert.Null(failure);
        Assert.Equal((3, 1L), (wallet!.Currency.Scale, wallet.OverdraftLimit));
    }

    [Theory]
    [InlineData("XYZ", null, null, LedgerErrors.UnknownCurrency)]
    [InlineData("usd", null, null, LedgerErrors.UnknownCurrency)]
    [InlineData("USD", "0.001", null, LedgerErrors.InvalidAmount)]
    [InlineData("USD", "-5", null, LedgerErrors.InvalidAmount)]
    [InlineData("USD", "lots", null, LedgerErrors.InvalidAmount)]
    [InlineData("USD", null, "", LedgerErrors.ValidationFailed)]
    public void NewWallet_InvalidCommand_Refuses(string currency, string? overdraft, string? ownerId, string code)
    {
        var (wallet, failure) = WalletRules.NewWallet("wal_new", Create(currency, overdraft, ownerId), Known(currency));
        Assert.Equal(code, failure?.Code);
        Assert.Null(wallet);
    }

    [Fact]
    public void NewWallet_OwnerIdTooLong_RefusesAsValidationFailed()
    {
        var (_, failure) = WalletRules.NewWallet("wal_new", Create("USD", ownerId: new string('o', WalletRules.OwnerIdLengthMax + 1)), Known("USD"));
        Assert.Equal(LedgerErrors.ValidationFailed, failure?.Code);
        var (wallet, _) = WalletRules.NewWallet("wal_new", Create("USD", ownerId: new string('o', WalletRules.OwnerIdLengthMax)), Known("USD"));
        Assert.NotNull(wallet);
    }

    // ---- helpers ----

    private static WalletState State(
        string id = WalletId,
        string status = WalletStatuses.Active,
        long balance = 0,
        long pending = 0,
        long overdraftLimit = 0,
        bool mayGoNegative = false) => new()
        {
            Exists = true,
            Id = id,
            TenantId = Tenant,
            IsSystem = SystemAccounts.IsSystemWalletId(id),
            Currency = Usd,
            Status = status,
            Balance = balance,
            Pending = pending,
            OverdraftLimit = overdraftLimit,
            MayGoNegative = mayGoNegative,
        };

    private static TransferCommand Command(string destination, string amount, string? currency = null, string? reference = null, IdempotencyRequest? idempotency = null) =>
        new(Tenant, "tr_" + Guid.NewGuid().ToString("N"), WalletId, destination, amount, currency, reference, "a description", null, idempotency,
            new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private static CreateWallet Create(string currency, string? overdraft = null, string? ownerId = null) =>
        new(Tenant, currency, ownerId, overdraft, null, null);

    /// <summary>What the catalog, with <paramref name="custom"/> configured, has as <paramref name="code"/> for every tenant.</summary>
    private static Currency? Known(string code, params (string Code, string Scale)[] custom) =>
        new CurrencyCatalog(new ConfigurationBuilder()
            .AddInMemoryCollection(custom.Select(c => KeyValuePair.Create<string, string?>($"Currencies:Custom:{c.Code}", c.Scale)))
            .Build()).TryGet(code, out var currency) ? currency : null;
}
