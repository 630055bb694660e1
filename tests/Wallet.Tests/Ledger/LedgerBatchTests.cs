using FsCheck;
using FsCheck.Fluent;
using Wallet.Grains;
using Wallet.Grains.Ledger;
using Wallet.Grains.Wallets;
using Xunit;

namespace Wallet.Tests.Ledger;

/// <summary>
/// <see cref="LedgerBatch.Plan"/> is the decision the database transaction takes over the rows it
/// locked. It is pure, so the snapshot is built by hand here; no PostgreSQL is involved.
/// </summary>
public sealed class LedgerBatchTests
{
    private const string Tenant = "t1";
    private const string OtherTenant = "t2";

    [Fact]
    public void Plan_ValidTransfer_PostsBothSidesAndCommits()
    {
        var source = Wallet("w1", balance: 1_000, version: 7);
        var destination = Wallet("w2", balance: 50, version: 3);
        var item = Transfer("w1", "w2", 400, key: "k1", reference: "r1");

        var batch = LedgerBatch.Plan([item], Snapshot([source, destination], lastSeq: 41));

        Assert.Equal([TransferCommitOutcome.Committed(4)], batch.Outcomes);
        Assert.Equal([new PlannedEntry(42, item)], batch.Entries);
        Assert.Equal(
            [new PlannedPosting("w1", 42, -400, "USD", 600, 8), new PlannedPosting("w2", 42, 400, "USD", 450, 4)],
            batch.Postings);
        Assert.Equal(42, batch.LastSeq);
        Assert.Equal([source, destination], batch.ChangedWallets);
        Assert.Equal((-400L, 1, true), (source.Delta, source.Postings, source.Debited));
        Assert.Equal((400L, 1, false), (destination.Delta, destination.Postings, destination.Debited));
    }

    [Fact]
    public void Plan_FrozenSource_RejectsAsWalletFrozen()
    {
        var batch = PlanOne(Transfer("w1", "w2", 10), Wallet("w1", status: WalletStatuses.Frozen), Wallet("w2"));
        AssertRejected(batch, LedgerErrors.WalletFrozen);
    }

    [Fact]
    public void Plan_FrozenDestination_TakesTheCredit()
    {
        var destination = Wallet("w2", status: WalletStatuses.Frozen);
        var batch = PlanOne(Transfer("w1", "w2", 10), Wallet("w1", balance: 100), destination);
        Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
        Assert.Equal(10, destination.Balance);
    }

    [Fact]
    public void Plan_ClosedSource_RejectsAsWalletClosed()
    {
        var batch = PlanOne(Transfer("w1", "w2", 10), Wallet("w1", status: WalletStatuses.Closed), Wallet("w2"));
        AssertRejected(batch, LedgerErrors.WalletClosed);
    }

    [Fact]
    public void Plan_ClosedDestination_RejectsAsWalletClosed()
    {
        var batch = PlanOne(Transfer("w1", "w2", 10), Wallet("w1"), Wallet("w2", status: WalletStatuses.Closed));
        AssertRejected(batch, LedgerErrors.WalletClosed);
    }

    [Theory]
    [InlineData("EUR", "USD", "USD")]
    [InlineData("USD", "EUR", "USD")]
    [InlineData("USD", "USD", "EUR")]
    public void Plan_CurrencyDiffers_RejectsAsCurrencyMismatch(string sourceCurrency, string destinationCurrency, string transferCurrency)
    {
        var batch = PlanOne(
            Transfer("w1", "w2", 10, currency: transferCurrency),
            Wallet("w1", currency: sourceCurrency),
            Wallet("w2", currency: destinationCurrency));
        AssertRejected(batch, LedgerErrors.CurrencyMismatch);
    }

    [Theory]
    [InlineData(OtherTenant, Tenant)]
    [InlineData(Tenant, OtherTenant)]
    public void Plan_WalletOfAnotherTenant_RejectsAsWalletNotFound(string sourceTenant, string destinationTenant)
    {
        var batch = PlanOne(Transfer("w1", "w2", 10), Wallet("w1", tenant: sourceTenant), Wallet("w2", tenant: destinationTenant));
        AssertRejected(batch, LedgerErrors.WalletNotFound);
    }

    [Fact]
    public void Plan_WalletNotLocked_RejectsAsWalletNotFound()
    {
        var batch = PlanOne(Transfer("w1", "gone", 10), Wallet("w1"));
        AssertRejected(batch, LedgerErrors.WalletNotFound);
    }

    [Fact]
    public void Plan_IdempotencyKeyInSnapshot_ReportsKeyExists()
    {
        var source = Wallet("w1", balance: 100);
        var batch = LedgerBatch.Plan([Transfer("w1", "w2", 10, key: "k1")], Snapshot([source, Wallet("w2")], keys: [(Tenant, "k1")]));
        Assert.Same(TransferCommitOutcome.KeyExists, Assert.Single(batch.Outcomes));
        AssertNothingPlanned(batch);
        Assert.Equal(100, source.Balance);
    }

    [Fact]
    public void Plan_IdempotencyKeyTwiceInOneBatch_CommitsTheFirstOnly()
    {
        var first = Transfer("w1", "w2", 10, key: "k1");
        var second = Transfer("w1", "w2", 10, key: "k1");
        var batch = LedgerBatch.Plan([first, second], Snapshot([Wallet("w1", balance: 100), Wallet("w2")]));
        Assert.Equal(CommitStatus.Committed, batch.Outcomes[0].Status);
        Assert.Same(TransferCommitOutcome.KeyExists, batch.Outcomes[1]);
        Assert.Equal([first], batch.Entries.Select(e => e.Transfer));
    }

    [Fact]
    public void Plan_IdempotencyKeyOfAnotherTenant_DoesNotCollide()
    {
        var batch = LedgerBatch.Plan([Transfer("w1", "w2", 10, key: "k1")], Snapshot([Wallet("w1", balance: 100), Wallet("w2")], keys: [(OtherTenant, "k1")]));
        Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
    }

    [Fact]
    public void Plan_ReferenceInSnapshot_RejectsAsConflict()
    {
        var batch = LedgerBatch.Plan([Transfer("w1", "w2", 10, reference: "order-1")], Snapshot([Wallet("w1", balance: 100), Wallet("w2")], references: [(Tenant, "order-1")]));
        AssertRejected(batch, LedgerErrors.Conflict);
    }

    [Fact]
    public void Plan_ReferenceTwiceInOneBatch_RejectsTheSecondAsConflict()
    {
        var batch = LedgerBatch.Plan(
            [Transfer("w1", "w2", 10, reference: "order-1"), Transfer("w1", "w2", 20, reference: "order-1")],
            Snapshot([Wallet("w1", balance: 100), Wallet("w2")]));
        Assert.Equal(CommitStatus.Committed, batch.Outcomes[0].Status);
        Assert.Equal((CommitStatus.Rejected, LedgerErrors.Conflict), (batch.Outcomes[1].Status, batch.Outcomes[1].Failure?.Code));
        Assert.Single(batch.Entries);
    }

    [Fact]
    public void Plan_RejectedTransfer_DoesNotClaimItsReference()
    {
        var batch = LedgerBatch.Plan(
            [Transfer("w1", "w2", 500, reference: "order-1"), Transfer("w1", "w2", 20, reference: "order-1")],
            Snapshot([Wallet("w1", balance: 100), Wallet("w2")]));
        Assert.Equal(LedgerErrors.InsufficientFunds, batch.Outcomes[0].Failure?.Code);
        Assert.Equal(CommitStatus.Committed, batch.Outcomes[1].Status);
    }

    [Theory]
    [InlineData(100, 0, 100, true)]
    [InlineData(100, 0, 101, false)]
    [InlineData(100, 50, 150, true)]
    [InlineData(100, 50, 151, false)]
    [InlineData(-50, 50, 1, false)]
    [InlineData(0, 0, 1, false)]
    public void Plan_DebitAgainstBalanceAndOverdraft_CommitsOnlyDownToMinusTheOverdraft(long balance, long overdraft, long amount, bool commits)
    {
        var source = Wallet("w1", balance: balance, overdraftLimit: overdraft);
        var batch = PlanOne(Transfer("w1", "w2", amount), source, Wallet("w2"));
        if (commits)
        {
            Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
            Assert.Equal(balance - amount, source.Balance);
        }
        else
        {
            AssertRejected(batch, LedgerErrors.InsufficientFunds);
            Assert.Equal(balance, source.Balance);
        }
    }

    [Fact]
    public void Plan_EarlierDebitsInTheBatch_CountAgainstLaterOnes()
    {
        var batch = LedgerBatch.Plan(
            [Transfer("w1", "w2", 60), Transfer("w1", "w3", 60), Transfer("w2", "w1", 30), Transfer("w1", "w3", 60)],
            Snapshot([Wallet("w1", balance: 100), Wallet("w2"), Wallet("w3")]));
        Assert.Equal(
            [CommitStatus.Committed, CommitStatus.Rejected, CommitStatus.Committed, CommitStatus.Committed],
            batch.Outcomes.Select(o => o.Status));
        Assert.Equal(LedgerErrors.InsufficientFunds, batch.Outcomes[1].Failure?.Code);
        Assert.Equal([1L, 2, 3], batch.Entries.Select(e => e.Seq));
    }

    [Fact]
    public void Plan_TreasuryThatMayGoNegative_IssuesBeyondItsBalance()
    {
        var treasury = Wallet("sys:t1:treasury:USD", mayGoNegative: true);
        var batch = PlanOne(Transfer(treasury.Id, "w1", 1_000_000), treasury, Wallet("w1"));
        Assert.Equal(CommitStatus.Committed, Assert.Single(batch.Outcomes).Status);
        Assert.Equal(-1_000_000, treasury.Balance);
    }

    [Fact]
    public void Plan_CreditBeyondTheLargestBalance_RejectsAsLimitExceeded()
    {
        var destination = Wallet("w2", balance: LedgerBatch.BalanceMagnitudeMax - 5);
        var batch = PlanOne(Transfer("w1", "w2", 6), Wallet("w1", balance: 100), destination);
        AssertRejected(batch, LedgerErrors.LimitExceeded);
        Assert.Equal(LedgerBatch.BalanceMagnitudeMax - 5, destination.Balance);
    }

    [Fact]
    public void Plan_RandomBatches_KeepEveryLedgerInvariant()
    {
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(2_000),
            Prop.ForAll(Scenarios().ToArbitrary(), scenario => CheckInvariants(scenario)));
    }

    [Fact]
    public void Scenarios_Sampled_ExerciseCommitsAndEveryRejection()
    {
        // Guards the property above against a generator that drifted into testing nothing.
        var outcomes = Gen.Sample(Scenarios(), 300)
            .SelectMany(s => LedgerBatch.Plan(
                s.Items.Select(i => i.Stage()).ToArray(),
                new BatchSnapshot(s.Wallets.ToDictionary(w => w.Id, w => w.Lock(), StringComparer.Ordinal), s.ExistingKeys.ToHashSet(), s.ExistingReferences.ToHashSet(), s.LastSeq)).Outcomes)
            .ToArray();
        var codes = outcomes.Select(o => o.Status == CommitStatus.IdempotencyKeyExists ? LedgerErrors.IdempotencyKeyExists : o.Failure?.Code ?? "committed")
            .CountBy(c => c).ToDictionary();
        string[] expected = ["committed", LedgerErrors.IdempotencyKeyExists, LedgerErrors.Conflict, LedgerErrors.WalletNotFound, LedgerErrors.CurrencyMismatch,
            LedgerErrors.WalletFrozen, LedgerErrors.WalletClosed, LedgerErrors.InsufficientFunds];
        Assert.All(expected, code => Assert.True(codes.GetValueOrDefault(code) >= 20, $"{code}: {codes.GetValueOrDefault(code)} of {outcomes.Length}"));
        Assert.True(codes["committed"] * 5 >= outcomes.Length, $"only {codes["committed"]} of {outcomes.Length} committed: {string.Join(", ", codes)}");
    }

    // ---- the property ----

    private static void CheckInvariants(Scenario scenario)
    {
        var wallets = scenario.Wallets.ToDictionary(w => w.Id, w => w.Lock(), StringComparer.Ordinal);
        var snapshot = new BatchSnapshot(wallets, scenario.ExistingKeys.ToHashSet(), scenario.ExistingReferences.ToHashSet(), scenario.LastSeq);
        var items = scenario.Items.Select(i => i.Stage()).ToArray();

        var batch = LedgerBatch.Plan(items, snapshot);

        Assert.Equal(items.Length, batch.Outcomes.Length);
        AssertOutcomesMatchTheModel(scenario, items, batch);
        AssertEntriesAreTheCommittedItems(scenario, items, batch);
        AssertPostingsBalanceEachEntry(batch);
        AssertWalletsMoveConsistently(scenario, wallets, batch);
    }

    /// <summary>Decides each item in order with its own running balances and compares codes.</summary>
    private static void AssertOutcomesMatchTheModel(Scenario scenario, StagedTransfer[] items, LedgerBatch batch)
    {
        var specs = scenario.Wallets.ToDictionary(w => w.Id, StringComparer.Ordinal);
        var balances = scenario.Wallets.ToDictionary(w => w.Id, w => w.Balance, StringComparer.Ordinal);
        var keys = scenario.ExistingKeys.ToHashSet();
        var references = scenario.ExistingReferences.ToHashSet();
        for (var i = 0; i < items.Length; i++)
        {
            var item = items[i];
            var source = specs.GetValueOrDefault(item.SourceId) is { } s && s.Tenant == item.TenantId ? s : null;
            var destination = specs.GetValueOrDefault(item.DestinationId) is { } d && d.Tenant == item.TenantId ? d : null;
            string? expected =
                item.Idempotency is { } k && keys.Contains((item.TenantId, k.Key)) ? LedgerErrors.IdempotencyKeyExists
                : item.Reference is { } r && references.Contains((item.TenantId, r)) ? LedgerErrors.Conflict
                : source is null || destination is null ? LedgerErrors.WalletNotFound
                : source.Currency != item.Currency || destination.Currency != item.Currency ? LedgerErrors.CurrencyMismatch
                : source.Status == WalletStatuses.Frozen ? LedgerErrors.WalletFrozen
                : source.Status == WalletStatuses.Closed || destination.Status == WalletStatuses.Closed ? LedgerErrors.WalletClosed
                : !source.MayGoNegative && balances[source.Id] - item.Amount < -source.OverdraftLimit ? LedgerErrors.InsufficientFunds
                : null;

            var outcome = batch.Outcomes[i];
            var actual = outcome.Status switch
            {
                CommitStatus.Committed => null,
                CommitStatus.IdempotencyKeyExists => LedgerErrors.IdempotencyKeyExists,
                _ => outcome.Failure?.Code ?? "rejected without a failure",
            };
            Assert.True(expected == actual, $"item {i} ({item.SourceId} -> {item.DestinationId}, {item.Amount}): expected {expected ?? "committed"}, got {actual ?? "committed"}");
            if (expected is not null)
            {
                continue;
            }

            balances[item.SourceId] -= item.Amount;
            balances[item.DestinationId] += item.Amount;
            if (item.Idempotency is { } key)
            {
                keys.Add((item.TenantId, key.Key));
            }

            if (item.Reference is { } reference)
            {
                references.Add((item.TenantId, reference));
            }
        }
    }

    private static void AssertEntriesAreTheCommittedItems(Scenario scenario, StagedTransfer[] items, LedgerBatch batch)
    {
        var committed = items.Where((_, i) => batch.Outcomes[i].Status == CommitStatus.Committed).ToArray();
        Assert.Equal(committed.Length, batch.Entries.Count);
        for (var i = 0; i < committed.Length; i++)
        {
            Assert.Same(committed[i], batch.Entries[i].Transfer);
            Assert.Equal(scenario.LastSeq + 1 + i, batch.Entries[i].Seq);
        }

        Assert.Equal(scenario.LastSeq + committed.Length, batch.LastSeq);
        Assert.All(batch.Outcomes.Where(o => o.Status != CommitStatus.Committed), o => Assert.Equal(0, o.DestinationVersion));
        Assert.All(batch.Outcomes.Where(o => o.Status == CommitStatus.Rejected), o => Assert.NotNull(o.Failure));

        // No key or reference is claimed twice, nor one that the database already holds.
        var keys = batch.Entries.Where(e => e.Transfer.Idempotency is not null).Select(e => (e.Transfer.TenantId, e.Transfer.Idempotency!.Key)).ToArray();
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.DoesNotContain(keys, scenario.ExistingKeys.Contains);
        var references = batch.Entries.Where(e => e.Transfer.Reference is not null).Select(e => (e.Transfer.TenantId, e.Transfer.Reference!)).ToArray();
        Assert.Equal(references.Length, references.Distinct().Count());
        Assert.DoesNotContain(references, scenario.ExistingReferences.Contains);
    }

    private static void AssertPostingsBalanceEachEntry(LedgerBatch batch)
    {
        Assert.Equal(2 * batch.Entries.Count, batch.Postings.Count);
        var bySeq = batch.Postings.ToLookup(p => p.EntrySeq);
        foreach (var entry in batch.Entries)
        {
            var postings = bySeq[entry.Seq].ToArray();
            Assert.Equal(2, postings.Length);
            Assert.Equal(0, postings.Sum(p => p.Amount));
            var debit = Assert.Single(postings, p => p.Amount < 0);
            var credit = Assert.Single(postings, p => p.Amount > 0);
            Assert.Equal((entry.Transfer.SourceId, -entry.Transfer.Amount), (debit.WalletId, debit.Amount));
            Assert.Equal((entry.Transfer.DestinationId, entry.Transfer.Amount), (credit.WalletId, credit.Amount));
            Assert.All(postings, p => Assert.Equal(entry.Transfer.Currency, p.Currency));
        }
    }

    private static void AssertWalletsMoveConsistently(Scenario scenario, Dictionary<string, LockedWallet> wallets, LedgerBatch batch)
    {
        var committedVersions = batch.Entries.Zip(batch.Outcomes.Where(o => o.Status == CommitStatus.Committed)).ToArray();
        foreach (var (entry, outcome) in committedVersions)
        {
            var credit = batch.Postings.Single(p => p.EntrySeq == entry.Seq && p.Amount > 0);
            Assert.Equal(credit.WalletVersion, outcome.DestinationVersion);
        }

        foreach (var spec in scenario.Wallets)
        {
            var wallet = wallets[spec.Id];
            var balance = spec.Balance;
            var version = spec.Version;
            var postings = batch.Postings.Where(p => p.WalletId == spec.Id).ToArray();
            foreach (var posting in postings)
            {
                balance += posting.Amount;
                version++;
                Assert.Equal(balance, posting.BalanceAfter);
                Assert.Equal(version, posting.WalletVersion);
                if (!spec.MayGoNegative && posting.Amount < 0)
                {
                    Assert.True(posting.BalanceAfter >= -spec.OverdraftLimit, $"{spec.Id} debited to {posting.BalanceAfter} with overdraft {spec.OverdraftLimit}");
                }
            }

            Assert.Equal(balance, wallet.Balance);
            Assert.Equal(version, wallet.Version);
            Assert.Equal(balance - spec.Balance, wallet.Delta);
            Assert.Equal(postings.Length, wallet.Postings);
            Assert.Equal(postings.Any(p => p.Amount < 0), wallet.Debited);
            Assert.True(spec.MayGoNegative || wallet.Balance >= -spec.OverdraftLimit, $"{spec.Id} left at {wallet.Balance}");
            Assert.True(spec.Status == WalletStatuses.Active || !wallet.Debited, $"{spec.Id} is {spec.Status} yet debited");
            Assert.True(spec.Status != WalletStatuses.Closed || wallet.Postings == 0, $"{spec.Id} is closed yet posted to");
        }

        Assert.Equal(scenario.Wallets.Sum(w => w.Balance), wallets.Values.Sum(w => w.Balance));
        Assert.Equal(
            scenario.Wallets.Where(w => batch.Postings.Any(p => p.WalletId == w.Id)).Select(w => w.Id).Order(StringComparer.Ordinal),
            batch.ChangedWallets.Select(w => w.Id));
    }

    // ---- generators ----

    private static Gen<Scenario> Scenarios() =>
        from count in Gen.Choose(2, 5)
        from wallets in Gen.CollectToArray(Enumerable.Range(0, count), i => WalletSpecs("w" + i))
        from items in Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Items([.. wallets.Select(w => w.Id)]), n))
        from keys in Gen.SubListOf(Pool("k", 3).SelectMany(k => new[] { (Tenant, k), (OtherTenant, k) }))
        from references in Gen.SubListOf(Pool("r", 3).SelectMany(r => new[] { (Tenant, r), (OtherTenant, r) }))
        from lastSeq in Gen.Choose(0, 1_000_000)
        select new Scenario(wallets, items, [.. keys], [.. references], lastSeq);

    private static Gen<WalletSpec> WalletSpecs(string id) =>
        from tenant in Gen.Frequency((15, Gen.Constant(Tenant)), (1, Gen.Constant(OtherTenant)))
        from currency in Gen.Frequency((15, Gen.Constant("USD")), (1, Gen.Constant("EUR")))
        from status in Gen.Frequency((16, Gen.Constant(WalletStatuses.Active)), (3, Gen.Constant(WalletStatuses.Frozen)), (1, Gen.Constant(WalletStatuses.Closed)))
        from mayGoNegative in Gen.Frequency((6, Gen.Constant(false)), (1, Gen.Constant(true)))
        from overdraft in Gen.Frequency((3, Gen.Constant(0)), (2, Gen.Choose(1, 500)))
        from balance in mayGoNegative ? Gen.Choose(-5_000, 5_000) : Gen.Choose(-overdraft, 8_000)
        from version in Gen.Choose(0, 100)
        select new WalletSpec(id, tenant, currency, status, balance, overdraft, mayGoNegative, version);

    private static Gen<ItemSpec> Items(string[] walletIds)
    {
        var account = Gen.Frequency((25, Gen.Elements(walletIds)), (1, Gen.Constant("w9"))); // w9 is never locked
        return
            from pair in account.Two().Where(p => p.Item1 != p.Item2)
            from amount in Gen.Frequency((4, Gen.Choose(1, 100)), (3, Gen.Choose(1, 3_000)), (1, Gen.Choose(1, 10_000)))
            from tenant in Gen.Frequency((30, Gen.Constant(Tenant)), (1, Gen.Constant(OtherTenant)))
            from currency in Gen.Frequency((20, Gen.Constant("USD")), (1, Gen.Constant("EUR")))
            from key in Gen.Elements(Pool("k", 40)).OrNull()
            from reference in Gen.Elements(Pool("r", 40)).OrNull()
            select new ItemSpec(tenant, pair.Item1, pair.Item2, amount, currency, key, reference);
    }

    private static string[] Pool(string prefix, int size) => [.. Enumerable.Range(0, size).Select(i => prefix + i)];

    // ---- helpers ----

    private static LedgerBatch PlanOne(StagedTransfer item, params LockedWallet[] wallets) => LedgerBatch.Plan([item], Snapshot(wallets));

    private static void AssertRejected(LedgerBatch batch, string code)
    {
        var outcome = Assert.Single(batch.Outcomes);
        Assert.Equal(CommitStatus.Rejected, outcome.Status);
        Assert.Equal(code, outcome.Failure?.Code);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Failure?.Detail));
        AssertNothingPlanned(batch);
    }

    private static void AssertNothingPlanned(LedgerBatch batch)
    {
        Assert.Empty(batch.Entries);
        Assert.Empty(batch.Postings);
        Assert.Empty(batch.ChangedWallets);
    }

    private static LockedWallet Wallet(
        string id,
        string tenant = Tenant,
        string currency = "USD",
        string status = WalletStatuses.Active,
        long balance = 0,
        long overdraftLimit = 0,
        bool mayGoNegative = false,
        long version = 0) =>
        new(id, tenant, currency, 2, status, balance, overdraftLimit, mayGoNegative, version);

    private static StagedTransfer Transfer(string source, string destination, long amount, string tenant = Tenant, string currency = "USD", string? key = null, string? reference = null) =>
        new(tenant, "tr_" + Guid.NewGuid().ToString("N"), source, destination, amount, currency, reference, null, null,
            key is null ? null : new IdempotencyRequest(key, "hash-" + key), new StoredAnswer(AnswerOutcome.Created, "{}"), DateTimeOffset.UnixEpoch);

    private static BatchSnapshot Snapshot(
        IEnumerable<LockedWallet> wallets,
        IEnumerable<(string, string)>? keys = null,
        IEnumerable<(string, string)>? references = null,
        long lastSeq = 0) =>
        new(wallets.ToDictionary(w => w.Id, StringComparer.Ordinal), (keys ?? []).ToHashSet(), (references ?? []).ToHashSet(), lastSeq);

    private sealed record WalletSpec(string Id, string Tenant, string Currency, string Status, long Balance, long OverdraftLimit, bool MayGoNegative, long Version)
    {
        public LockedWallet Lock() => new(Id, Tenant, Currency, 2, Status, Balance, OverdraftLimit, MayGoNegative, Version);
    }

    private sealed record ItemSpec(string Tenant, string Source, string Destination, long Amount, string Currency, string? Key, string? Reference)
    {
        public StagedTransfer Stage() => Transfer(Source, Destination, Amount, Tenant, Currency, Key, Reference);
    }

    private sealed record Scenario(WalletSpec[] Wallets, ItemSpec[] Items, (string, string)[] ExistingKeys, (string, string)[] ExistingReferences, long LastSeq)
    {
        // FsCheck prints the counterexample with this.
        public override string ToString() =>
            $"LastSeq={LastSeq}; keys=[{string.Join(",", ExistingKeys)}]; refs=[{string.Join(",", ExistingReferences)}]{Environment.NewLine}" +
            $"wallets:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", Wallets.Select(w => w.ToString()))}{Environment.NewLine}" +
            $"items:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", Items.Select(i => i.ToString()))}";
    }
}
