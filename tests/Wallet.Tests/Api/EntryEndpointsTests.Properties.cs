using System.Globalization;
using System.Net;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Wallet.Tests.Api;

// Random multi-leg entries between four wallets and three system accounts of a fresh tenant,
// through HTTP: money is conserved, nothing is half posted, and (one at a time) each entry posts
// exactly when a model of the balances says every debited account can pay. Part of the endpoint
// tests' class, so that both share one silo.
public sealed partial class EntryEndpointsTests
{
    private const int Wallets = 4;

    // Accounts 0 to 3 are the scenario's wallets; then these system accounts.
    private static readonly string[] SystemNames = ["fees", "revenue", "treasury"];

    [Fact]
    public async Task Entries_OneAtATime_PostExactlyWhenTheModelCanPay()
    {
        var scenarios = Scenarios(entriesMax: 8).Sample(20, 10);
        foreach (var scenario in scenarios)
        {
            var run = await StartAsync(scenario);
            foreach (var entry in scenario.Entries)
            {
                using var response = await run.Client.PostJsonAsync("/v1/entries", run.Body(entry));
                if (run.CanPay(entry))
                {
                    await response.ExpectAsync(HttpStatusCode.Created);
                    run.Apply(entry);
                }
                else
                {
                    await response.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
                }
            }

            await run.AssertLedgerAsync();
        }
    }

    [Fact]
    public async Task Entries_AllAtOnce_PostWholeOrNotAtAll()
    {
        var scenarios = Scenarios(entriesMax: 12).Sample(20, 5);
        foreach (var scenario in scenarios)
        {
            var run = await StartAsync(scenario);
            var responses = await Task.WhenAll(scenario.Entries.Select(entry => run.PostUntilDecidedAsync(entry)));
            for (var i = 0; i < responses.Length; i++)
            {
                using var response = responses[i];
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    run.Apply(scenario.Entries[i]);
                }
                else
                {
                    await response.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
                }
            }

            await run.AssertLedgerAsync();
        }
    }

    private async Task<Run> StartAsync(Scenario scenario)
    {
        var tenant = "entries-prop-" + Guid.NewGuid().ToString("N")[..12];
        var client = await api.Factory.CreateTenantClientAsync(tenant);
        var run = new Run(api, tenant, client, scenario);
        for (var i = 0; i < Wallets; i++)
        {
            run.Accounts[i] = await client.CreateWalletAsync();
            if (scenario.Funding[i] > 0)
            {
                await client.DepositAsync(run.Accounts[i], Run.Format(scenario.Funding[i]));
                run.Balances[i] += scenario.Funding[i];
                run.Balances[Wallets + 2] -= scenario.Funding[i];
            }
        }

        return run;
    }

    private sealed record Leg(int Account, long Amount);

    private sealed record Entry(Leg[] Debits, Leg[] Credits)
    {
        public override string ToString() =>
            $"[{string.Join(", ", Debits.Select(l => $"-{l.Account}:{l.Amount}"))} | {string.Join(", ", Credits.Select(l => $"+{l.Account}:{l.Amount}"))}]";
    }

    private sealed record Scenario(long[] Funding, IReadOnlyList<Entry> Entries)
    {
        public override string ToString() => $"funding [{string.Join(", ", Funding)}], entries {string.Join(" ", Entries)}";
    }

    private static Gen<Scenario> Scenarios(int entriesMax) =>
        from funding in Gen.Choose(0, 5_000).Select(v => (long)v).ArrayOf(Wallets)
        from count in Gen.Choose(1, entriesMax)
        from entries in Entries().ListOf(count)
        select new Scenario(funding, [.. entries]);

    // Two to five distinct accounts, at least one a wallet, split into debits and credits whose sums agree.
    private static Gen<Entry> Entries() =>
        (from accounts in Gen.Shuffle(Enumerable.Range(0, Wallets + SystemNames.Length).ToArray())
         from size in Gen.Choose(2, 5)
         from debitCount in Gen.Choose(1, size - 1)
         from debits in Gen.Choose(1, 3_000).ArrayOf(debitCount)
         from weights in Gen.Choose(1, 10).ArrayOf(size - debitCount)
         select Build(accounts[..size], debits, weights))
        .Where(entry => entry is not null && entry.Debits.Concat(entry.Credits).Any(leg => leg.Account < Wallets))
        .Select(entry => entry!);

    private static Entry? Build(int[] accounts, int[] debits, int[] weights)
    {
        long total = debits.Sum();
        var credits = weights.Select(w => total * w / weights.Sum()).ToArray();
        credits[^1] += total - credits.Sum();
        if (credits.Any(c => c < 1))
        {
            return null;
        }

        return new Entry(
            [.. debits.Select((amount, i) => new Leg(accounts[i], amount))],
            [.. credits.Select((amount, i) => new Leg(accounts[debits.Length + i], amount))]);
    }

    /// <summary>One scenario's tenant, its accounts, and the model of their balances in minor units.</summary>
    private sealed class Run(ApiFixture api, string tenant, HttpClient client, Scenario scenario)
    {
        public HttpClient Client => client;

        public string[] Accounts { get; } = [.. new string[Wallets], .. SystemNames.Select(n => "@" + n)];

        public long[] Balances { get; } = new long[Wallets + SystemNames.Length];

        public Task<HttpResponseMessage> PostUntilDecidedAsync(Entry entry) => client.PostUntilDecidedAsync("/v1/entries", Body(entry));

        public object Body(Entry entry) => new
        {
            currency = "USD",
            debits = entry.Debits.Select(leg => new { account = Accounts[leg.Account], amount = Format(leg.Amount) }).ToArray(),
            credits = entry.Credits.Select(leg => new { account = Accounts[leg.Account], amount = Format(leg.Amount) }).ToArray(),
        };

        // Wallets and the system accounts that may not go negative pay only what they have.
        public bool CanPay(Entry entry) => entry.Debits.All(leg => leg.Account == Wallets + 2 || Balances[leg.Account] >= leg.Amount);

        public void Apply(Entry entry)
        {
            foreach (var leg in entry.Debits)
            {
                Balances[leg.Account] -= leg.Amount;
            }

            foreach (var leg in entry.Credits)
            {
                Balances[leg.Account] += leg.Amount;
            }
        }

        public async Task AssertLedgerAsync()
        {
            var expected = new List<string>();
            var actual = new List<string>();
            for (var i = 0; i < Balances.Length; i++)
            {
                var id = i < Wallets ? Accounts[i] : $"sys:{tenant}:{SystemNames[i - Wallets]}:USD";
                expected.Add($"{Accounts[i]}={Balances[i]}");
                actual.Add($"{Accounts[i]}={await api.Database.BalanceAsync(id)}");
                if (i < Wallets)
                {
                    Assert.Equal(Format(Balances[i]), await client.PostedAsync(id));
                }
            }

            Assert.True(expected.SequenceEqual(actual), $"balances {string.Join(", ", actual)}, model {string.Join(", ", expected)}; scenario {scenario}");
            Assert.Equal(0, await api.Database.TenantMoneyAsync(tenant));
            Assert.All(Balances.Take(Wallets + 2), balance => Assert.True(balance >= 0, $"an account went negative; scenario {scenario}"));
            Assert.Empty(await api.Database.DoubleEntryFaultsAsync([.. Accounts.Take(Wallets), .. SystemNames.Select(n => $"sys:{tenant}:{n}:USD")]));
        }

        public static string Format(long minor) => (minor / 100m).ToString("0.00", CultureInfo.InvariantCulture);
    }
}
