using System.Globalization;
using System.Net;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Api;

/// <summary>Debits racing over HTTP: no wallet is overdrawn, money is conserved, every answer tells the truth.</summary>
public sealed class ConcurrencyTests(ApiFixture api, ITestOutputHelper output) : IClassFixture<ApiFixture>
{
    private const int RandomWalletCount = 20;
    private const int RandomTransferCount = 2_000;
    private const int RandomInFlightMax = 64;
    private const long RandomAmountMaxMinor = 6_000; // 60.00: many transfers exceed what the source holds
    private const string SeedVariable = "WALLET_TEST_SEED";

    private HttpClient Client => api.Client;

    [Fact]
    public async Task Spend_TenConcurrentSpendsOfWholeBalance_ExactlyOneSucceeds()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "100.00");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "100.00" })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        }

        Assert.Equal("0.00", await Client.PostedAsync(wallet));
        var history = await Client.HistoryAsync(wallet);
        var debit = Assert.Single(history, item => item.Str("direction") == "debit");
        Assert.Equal("@revenue", debit.Str("counterparty"));
        Assert.Equal(2, await api.Database.PostingCountAsync(wallet));
    }

    [Fact]
    public async Task Transfer_TenConcurrentTransfersOfAFifth_ExactlyFiveSucceed()
    {
        var alice = await Client.CreateWalletAsync();
        var bob = await Client.CreateWalletAsync();
        await Client.DepositAsync(alice, "100.00");

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Client.TransferAsync(alice, bob, "20.00")));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.PaymentRequired, "insufficient_funds");
        }

        Assert.Equal("0.00", await Client.PostedAsync(alice));
        Assert.Equal("100.00", await Client.PostedAsync(bob));
        Assert.Equal(5, (await Client.HistoryAsync(bob)).Count(item => item.Str("direction") == "credit"));
    }

    [Fact]
    public async Task Spend_RacingAFreeze_EachSpendEitherPostsOrIsRefusedAsFrozen()
    {
        var wallet = await Client.CreateWalletAsync();
        await Client.DepositAsync(wallet, "100.00");

        var spends = Enumerable.Range(0, 20).Select(_ => Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "1.00" })).ToList();
        var freeze = Client.PostEmptyAsync($"/v1/wallets/{wallet}/freeze");
        var answers = await Task.WhenAll(spends);
        Assert.Equal("frozen", (await (await freeze).ExpectAsync(HttpStatusCode.OK)).Str("status"));

        foreach (var refused in answers.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
        }

        var posted = answers.Count(r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal($"{100 - posted}.00", await Client.PostedAsync(wallet));
        Assert.Equal(posted, (await Client.HistoryAsync(wallet)).Count(item => item.Str("direction") == "debit"));
        Assert.Empty(await api.Database.DoubleEntryFaultsAsync([wallet]));
        await (await Client.PostJsonAsync($"/v1/wallets/{wallet}/spend", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_frozen");
    }

    [Fact]
    public async Task Close_RacingADeposit_NeverLeavesMoneyInAClosedWallet()
    {
        for (var round = 0; round < 10; round++)
        {
            var wallet = await Client.CreateWalletAsync();

            var deposit = Client.PostJsonAsync($"/v1/wallets/{wallet}/deposit", new { amount = "1.00" });
            var close = Client.PostEmptyAsync($"/v1/wallets/{wallet}/close");
            using var deposited = await deposit;
            using var closed = await close;

            var shown = await Client.GetWalletAsync(wallet);
            var posted = shown.GetProperty("balance").Str("posted");
            if (closed.StatusCode == HttpStatusCode.OK)
            {
                Assert.Equal(("closed", "0.00"), (shown.Str("status"), posted));
                await deposited.ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "wallet_closed");
            }
            else
            {
                Assert.True(closed.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity,
                    $"close answered {(int)closed.StatusCode}: {await closed.Content.ReadAsStringAsync()}");
                Assert.Equal(("active", "1.00"), (shown.Str("status"), posted));
                await deposited.ExpectAsync(HttpStatusCode.Created);
            }

            Assert.Empty(await api.Database.DoubleEntryFaultsAsync([wallet]));
        }
    }

    /// <summary>
    /// A property over one random schedule: thousands of transfers among a few wallets, many larger
    /// than what their source holds. Set WALLET_TEST_SEED to replay a failing seed.
    /// </summary>
    [Fact]
    public async Task Transfer_ThousandsOfConcurrentRandomTransfers_ConserveMoneyAndNeverOverdraw()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), CultureInfo.InvariantCulture, out var fixedSeed)
            ? fixedSeed
            : Random.Shared.Next();
        output.WriteLine($"seed {seed} (replay with {SeedVariable}={seed})");
        var random = new Random(seed);
        void Check(bool condition, string what) => Assert.True(condition, $"seed {seed}: {what}");

        var wallets = new string[RandomWalletCount];
        var expected = new long[RandomWalletCount];
        for (var i = 0; i < wallets.Length; i++)
        {
            wallets[i] = await Client.CreateWalletAsync(ownerId: "random-transfers");
            expected[i] = random.NextInt64(5_000, 15_001); // 50.00 to 150.00
            await Client.DepositAsync(wallets[i], Format(expected[i]));
        }

        var deposited = expected.Sum();
        var plan = Enumerable.Range(0, RandomTransferCount).Select(_ =>
        {
            var source = random.Next(RandomWalletCount);
            var destination = (source + 1 + random.Next(RandomWalletCount - 1)) % RandomWalletCount;
            return (Source: source, Destination: destination, Amount: random.NextInt64(1, RandomAmountMaxMinor + 1));
        }).ToArray();

        using var inFlight = new SemaphoreSlim(RandomInFlightMax);
        var outcomes = await Task.WhenAll(plan.Select(async transfer =>
        {
            await inFlight.WaitAsync();
            try
            {
                using var response = await Client.TransferAsync(wallets[transfer.Source], wallets[transfer.Destination], Format(transfer.Amount));
                return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
            }
            finally
            {
                inFlight.Release();
            }
        }));

        var created = 0;
        for (var i = 0; i < plan.Length; i++)
        {
            var (status, body) = outcomes[i];
            Check(status is HttpStatusCode.Created or HttpStatusCode.PaymentRequired, $"transfer {i} answered {(int)status}: {body}");
            if (status == HttpStatusCode.Created)
            {
                created++;
                expected[plan[i].Source] -= plan[i].Amount;
                expected[plan[i].Destination] += plan[i].Amount;
            }
            else
            {
                Check(body.Contains("\"insufficient_funds\"", StringComparison.Ordinal), $"transfer {i} refused with {body}");
            }
        }

        output.WriteLine($"{created} of {plan.Length} transfers succeeded");
        Check(created > 0 && created < plan.Length, $"{created} of {plan.Length} succeeded: the schedule should mix successes and refusals");

        long total = 0;
        for (var i = 0; i < wallets.Length; i++)
        {
            var posted = await Client.PostedAsync(wallets[i]);
            var minor = ParseMinor(posted);
            total += minor;
            Check(minor >= 0, $"wallet {wallets[i]} is overdrawn: {posted}");
            Check(minor == expected[i], $"wallet {wallets[i]} shows {posted}; its deposit and its successful transfers make {Format(expected[i])}");
            Check(minor == await api.Database.BalanceAsync(wallets[i]), $"wallet {wallets[i]}: the API and the row disagree");
        }

        Check(total == deposited, $"the wallets hold {Format(total)}; {Format(deposited)} was deposited");
        var faults = await api.Database.DoubleEntryFaultsAsync(wallets);
        Check(faults.Count == 0, "double-entry faults: " + string.Join("; ", faults));
        Check(await api.Database.EntriesBetweenAsync(wallets) == created, "entries between the wallets differ from the 201 answers");

        var report = await (await Client.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);
        Check(report.GetProperty("ok").GetBoolean(), $"verify: {report}");
        Check(report.GetProperty("problems").GetArrayLength() == 0, $"verify: {report}");
    }

    private static string Format(long minor) => (minor / 100m).ToString("0.00", CultureInfo.InvariantCulture);

    private static long ParseMinor(string amount) => (long)(decimal.Parse(amount, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * 100);
}
