using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Xunit;
using Xunit.Abstractions;

namespace Wallet.Tests.Reports;

/// <summary>
/// Accounting reports after random activity in two assets: the trial balance's debits equal its
/// credits, the balance sheet balances, income and cash flow add up to what was done, and a report
/// of an instant taken mid-run is, byte for byte, the one computed at that instant.
/// </summary>
public sealed class ReportTests(ApiFixture api, ITestOutputHelper output) : IClassFixture<ApiFixture>
{
    private static readonly string[] Assets = ["USD", "EUR"];

    [Fact]
    public async Task AfterRandomActivity_ReportsBalance_AddUp_AndAnInstantsReportNeverChanges()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("reports");
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var activity = new Activity(tenant, new Random(seed));
        foreach (var asset in Assets)
        {
            for (var i = 0; i < 3; i++)
            {
                activity.Wallets.Add((asset, await tenant.CreateWalletAsync(asset)));
            }
        }

        var start = (await GetAsync(tenant, "trial-balance")).Str("as_of");
        await activity.StartAsync();
        await activity.RunAsync(40);
        var mid = await GetAsync(tenant, "trial-balance");
        var midAt = mid.Str("as_of");
        var midSheet = await GetRawAsync(tenant, $"balance-sheet?as_of={Q(midAt)}");
        var midCsv = await GetRawAsync(tenant, $"trial-balance?as_of={Q(midAt)}", csv: true);
        var midTotals = activity.Totals();
        await activity.RunAsync(40);

        // The instant taken mid-run, asked for again after more activity: the same reports, to the byte.
        Assert.Equal(mid.GetRawText(), (await GetAsync(tenant, $"trial-balance?as_of={Q(midAt)}")).GetRawText());
        Assert.Equal(midSheet, await GetRawAsync(tenant, $"balance-sheet?as_of={Q(midAt)}"));
        Assert.Equal(midCsv, await GetRawAsync(tenant, $"trial-balance?as_of={Q(midAt)}", csv: true));
        AssertTotals(mid, midTotals);

        var end = await GetAsync(tenant, "trial-balance");
        AssertTotals(end, activity.Totals());
        foreach (var asset in Assets)
        {
            var trial = ByAsset(end, asset);
            Assert.True(trial.GetProperty("balanced").GetBoolean());
            Assert.Equal(trial.Str("debits"), trial.Str("credits"));
            var sheet = ByAsset(await GetAsync(tenant, $"balance-sheet?as_of={Q(end.Str("as_of"))}&asset={asset}"), asset);
            Assert.True(sheet.GetProperty("check").GetProperty("balanced").GetBoolean());
            Assert.Equal(Money(0), sheet.GetProperty("check").Str("difference"));

            // Over the whole run: what was earned and spent, and the cash through the treasury.
            var income = ByAsset(await GetAsync(tenant, $"income-statement?from={Q(start)}&to={Q(end.Str("as_of"))}&asset={asset}"), asset);
            var totals = activity.Totals()[asset];
            Assert.Equal(Money(totals.Spent + totals.Fees), income.Str("total_income"));
            Assert.Equal(Money(totals.Bonuses), income.Str("total_expenses"));
            Assert.Equal(Money(totals.Spent + totals.Fees - totals.Bonuses), income.Str("net_income"));
            var cash = ByAsset(await GetAsync(tenant, $"cash-flow?from={Q(start)}&to={Q(end.Str("as_of"))}&asset={asset}"), asset);
            var treasury = cash.GetProperty("accounts").EnumerateArray().Single(a => a.Str("account") == "@treasury");
            Assert.Equal((Money(0), Money(totals.Deposited), Money(totals.Deposited)),
                (treasury.Str("opening"), treasury.Str("debits"), treasury.Str("closing")));
            var settlement = cash.GetProperty("accounts").EnumerateArray().SingleOrDefault(a => a.Str("account") == "@settlement");
            Assert.Equal(Money(totals.Settled), settlement.ValueKind == JsonValueKind.Undefined ? Money(0) : settlement.Str("closing"));
        }

        // As of the end, each line is what the ledger holds now.
        foreach (var (asset, wallet) in activity.Wallets)
        {
            Assert.Equal(activity.Balance(wallet), Minor((await tenant.GetWalletAsync(wallet)).GetProperty("balance").Str("posted")));
        }

        await api.Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Reports_RefuseAFutureInstant_AnEmptyPeriod_AndABadAsset()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("reports-bad");
        var future = Q(DateTimeOffset.UtcNow.AddMinutes(5).ToString("O", CultureInfo.InvariantCulture));
        var past = Q(DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O", CultureInfo.InvariantCulture));

        foreach (var path in (string[])[$"trial-balance?as_of={future}", "balance-sheet?as_of=yesterday", "trial-balance?asset=U$D",
                     $"income-statement?from={past}", $"cash-flow?from={past}&to={past}", $"income-statement?from={past}&to={future}"])
        {
            await (await tenant.GetAsync($"/v1/reports/{path}")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        // A tenant with no postings has nothing to report, and that balances.
        var empty = await GetAsync(tenant, $"trial-balance?as_of={past}");
        Assert.Empty(empty.GetProperty("by_asset").EnumerateArray());
    }

    private static void AssertTotals(JsonElement trialBalance, Dictionary<string, Totals> totals)
    {
        foreach (var asset in Assets)
        {
            var lines = ByAsset(trialBalance, asset).GetProperty("accounts").EnumerateArray().ToDictionary(a => a.Str("account"));
            var expected = totals[asset];
            Assert.Equal(Money(expected.Deposited), lines["@treasury"].Str("debit"));
            Assert.Equal(Money(expected.Held), lines["wallets"].Str("credit"));
            Assert.Equal(Money(expected.Spent), lines.TryGetValue("@revenue", out var revenue) ? revenue.Str("credit") : Money(0));
        }
    }

    private static JsonElement ByAsset(JsonElement report, string asset) =>
        report.GetProperty("by_asset").EnumerateArray().Single(a => a.Str("asset") == asset);

    private static async Task<JsonElement> GetAsync(HttpClient tenant, string path) =>
        await (await tenant.GetAsync($"/v1/reports/{path}")).ExpectAsync(HttpStatusCode.OK);

    private static async Task<string> GetRawAsync(HttpClient tenant, string path, bool csv = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/reports/{path}");
        if (csv)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        }

        using var response = await tenant.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(csv ? "text/csv" : "application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    private static string Q(string time) => Uri.EscapeDataString(time);

    private static string Money(long cents) => (cents / 100m).ToString("0.00", CultureInfo.InvariantCulture);

    private static long Minor(string amount) => (long)(decimal.Parse(amount, CultureInfo.InvariantCulture) * 100);

    /// <summary>What the activity did in one asset, in cents: issued, spent, given, settled, and what the wallets hold.</summary>
    private sealed record Totals(long Deposited, long Bonuses, long Spent, long Fees, long Settled, long Held);

    /// <summary>Random deposits, bonuses, spends, withdrawals, transfers, fees and captured holds, and what each left where.</summary>
    private sealed class Activity(HttpClient tenant, Random random)
    {
        private readonly Dictionary<string, long> _balances = [];
        private readonly Dictionary<string, (long Deposited, long Bonuses, long Spent, long Fees, long Settled)> _sums = [];

        public List<(string Asset, string Id)> Wallets { get; } = [];

        public long Balance(string wallet) => _balances.GetValueOrDefault(wallet);

        public Dictionary<string, Totals> Totals() => Assets.ToDictionary(a => a, a =>
        {
            var s = _sums.GetValueOrDefault(a);
            return new Totals(s.Deposited, s.Bonuses, s.Spent, s.Fees, s.Settled, Wallets.Where(w => w.Asset == a).Sum(w => Balance(w.Id)));
        });

        /// <summary>Each asset's first wallet gets a deposit and a bonus: every report has its treasury and its expense.</summary>
        public async Task StartAsync()
        {
            foreach (var asset in Assets)
            {
                var wallet = Wallets.First(w => w.Asset == asset).Id;
                await MoveAsync(wallet, "deposit", "100.00");
                await MoveAsync(wallet, "bonus", "10.00");
                Add(wallet, 11_000);
                var s = _sums.GetValueOrDefault(asset);
                _sums[asset] = s with { Deposited = s.Deposited + 10_000, Bonuses = s.Bonuses + 1_000 };
            }
        }

        public async Task RunAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var (asset, wallet) = Wallets[random.Next(Wallets.Count)];
                var cents = random.Next(1, 50_000);
                var amount = (cents / 100m).ToString("0.00", CultureInfo.InvariantCulture);
                var s = _sums.GetValueOrDefault(asset);
                var enough = Balance(wallet) >= cents;
                switch (random.Next(7))
                {
                    case 0:
                        await MoveAsync(wallet, "deposit", amount);
                        Add(wallet, cents);
                        s.Deposited += cents;
                        break;
                    case 1:
                        await MoveAsync(wallet, "bonus", amount);
                        Add(wallet, cents);
                        s.Bonuses += cents;
                        break;
                    case 2 when enough:
                        await MoveAsync(wallet, "spend", amount);
                        Add(wallet, -cents);
                        s.Spent += cents;
                        break;
                    case 3 when enough:
                        await MoveAsync(wallet, "withdraw", amount);
                        Add(wallet, -cents);
                        s.Settled += cents;
                        break;
                    case 4 when enough:
                        var other = Wallets.Where(w => w.Asset == asset && w.Id != wallet).ElementAt(random.Next(2)).Id;
                        (await tenant.TransferAsync(wallet, other, amount)).EnsureSuccessStatusCode();
                        Add(wallet, -cents);
                        Add(other, cents);
                        break;
                    case 5 when enough:
                        await (await tenant.PostJsonAsync("/v1/entries", new
                        {
                            currency = asset,
                            debits = new[] { new { account = wallet, amount } },
                            credits = new[] { new { account = "@fees", amount } },
                        })).ExpectAsync(HttpStatusCode.Created);
                        Add(wallet, -cents);
                        s.Fees += cents;
                        break;
                    case 6 when enough:
                        // A hold, half of it captured (to @settlement), the rest released.
                        var hold = await (await tenant.PostJsonAsync("/v1/holds", new { wallet_id = wallet, amount })).ExpectAsync(HttpStatusCode.Created);
                        var half = cents / 2;
                        if (half > 0)
                        {
                            await (await tenant.PostJsonAsync($"/v1/holds/{hold.Str("id")}/capture",
                                new { amount = (half / 100m).ToString("0.00", CultureInfo.InvariantCulture), final = true })).ExpectAsync(HttpStatusCode.OK);
                            Add(wallet, -half);
                            s.Settled += half;
                        }
                        else
                        {
                            await (await tenant.PostJsonAsync($"/v1/holds/{hold.Str("id")}/void", new { })).ExpectAsync(HttpStatusCode.OK);
                        }

                        break;
                    default:
                        await MoveAsync(wallet, "deposit", amount);
                        Add(wallet, cents);
                        s.Deposited += cents;
                        break;
                }

                _sums[asset] = s;
            }
        }

        private void Add(string wallet, long cents) => _balances[wallet] = Balance(wallet) + cents;

        private async Task MoveAsync(string wallet, string shorthand, string amount) =>
            await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/{shorthand}", new { amount })).ExpectAsync(HttpStatusCode.Created);
    }
}
