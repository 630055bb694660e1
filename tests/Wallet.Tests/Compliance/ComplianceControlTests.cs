using System.Net;
using System.Text.Json;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Xunit;

namespace Wallet.Tests.Compliance;

/// <summary>
/// The controls screening drives: a wallet whose owner screens as a potential match or a match is
/// under review, its withdrawals refused (422 compliance_review) until an operator resolves the
/// screening; a withdrawal's counterparty is screened before the money moves; owners are screened
/// again when a watchlist changes, as a job, and on a schedule.
/// </summary>
public sealed class ComplianceControlTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private static readonly object ListedOwner = new { name = "Sidorenko Ivan Petrovitch", country = "RU", date_of_birth = "1961-03-14" };

    [Fact]
    public async Task AMatchedOwnersWithdrawal_IsRefused_UntilTheScreeningIsCleared_ThenSucceeds()
    {
        var tenant = await api.Factory.TenantWithSampleListAsync("review");
        var wallet = await tenant.CreateOwnedWalletAsync("person-1", ListedOwner);
        var id = wallet.Str("id");
        var screeningId = wallet.Str("compliance_review");
        Assert.Equal("Sidorenko Ivan Petrovitch", wallet.GetProperty("owner").Str("name"));
        await tenant.DepositAsync(id, "100.00");
        var other = await tenant.CreateWalletAsync();

        // Refused, and not kept under its Idempotency-Key: the same request goes once the screening is cleared.
        var key = ApiCalls.NewKey();
        var refused = await (await tenant.PostJsonAsync($"/v1/wallets/{id}/withdraw", new { amount = "40.00" }, key))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");
        Assert.Contains(screeningId, refused.Str("detail"), StringComparison.Ordinal);
        await (await tenant.TransferAsync(id, other, "10.00")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");
        await (await tenant.PostJsonAsync("/v1/transfers", new { source = id, destination = "@settlement", amount = "1.00" }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");
        await tenant.MoveAsync(id, "spend", "5.00"); // money that stays with the tenant still moves
        // A name asked about on its own holds nothing back: it is kept, not queued.
        Assert.Equal("match", (await tenant.ScreenAsync(new { name = "Ivan Petrovich Sidorenko", country = "RU" })).Str("status"));

        var queue = await (await tenant.GetAsync("/v1/compliance/reviews")).ExpectAsync(HttpStatusCode.OK);
        var queued = Assert.Single(queue.GetProperty("data").EnumerateArray());
        Assert.Equal((screeningId, "owner", id, "match"), (queued.Str("id"), queued.Str("subject"), queued.Str("wallet_id"), queued.Str("status")));

        var resolved = await tenant.ResolveAsync(screeningId, "cleared");
        Assert.Equal("cleared", resolved.GetProperty("resolution").Str("decision"));
        Assert.Null((await tenant.GetWalletAsync(id)).GetProperty("compliance_review").GetString());
        var withdrawn = await (await tenant.PostJsonAsync($"/v1/wallets/{id}/withdraw", new { amount = "40.00" }, key)).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("@settlement", withdrawn.Str("destination"));
        Assert.Equal("55.00", (await tenant.GetWalletAsync(id)).GetProperty("balance").Str("posted"));

        Assert.Empty((await (await tenant.GetAsync("/v1/compliance/reviews")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        var audit = await (await tenant.GetAsync("/v1/audit?action=screening.resolved")).ExpectAsync(HttpStatusCode.OK);
        var row = Assert.Single(audit.GetProperty("data").EnumerateArray());
        Assert.Equal((screeningId, "cleared", id), (row.Str("target"), row.GetProperty("details").Str("decision"), row.GetProperty("details").Str("review_lifted")));
    }

    [Fact]
    public async Task AConfirmedMatch_KeepsTheWalletUnderReview_AndAScreeningIsResolvedOnce()
    {
        var tenant = await api.Factory.TenantWithSampleListAsync("confirm");
        var wallet = await tenant.CreateOwnedWalletAsync("person-2", ListedOwner);
        var id = wallet.Str("id");
        await tenant.DepositAsync(id, "10.00");

        await tenant.ResolveAsync(wallet.Str("compliance_review"), "confirmed");

        await (await tenant.PostJsonAsync($"/v1/wallets/{id}/withdraw", new { amount = "1.00" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");
        await (await tenant.PostJsonAsync($"/v1/compliance/screenings/{wallet.Str("compliance_review")}/resolve", new { decision = "cleared" }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "screening_resolved");
        var clear = await tenant.CreateOwnedWalletAsync("person-3", new { name = "Maria Garcia", country = "ES" });
        Assert.Null(clear.GetProperty("compliance_review").GetString());
        await (await tenant.PostJsonAsync("/v1/compliance/screenings/scr_missing/resolve", new { decision = "cleared" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "screening_not_found");
        await (await tenant.PostJsonAsync($"/v1/compliance/screenings/{wallet.Str("compliance_review")}/resolve", new { decision = "maybe" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "USD", owner = new { name = "No Id" } }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "USD", owner_id = "p", owner = new { name = "X", country = "Russia" } }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task AListedCounterparty_StopsTheWithdrawal_UntilCleared_AndAnUnlistedOneDoesNot()
    {
        var tenant = await api.Factory.TenantWithSampleListAsync("counterparty");
        var wallet = await tenant.FundedWalletAsync("100.00");
        var listed = new { amount = "10.00", counterparty = new { name = "Northwind Maritime", country = "PA" } };

        var refused = await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", listed)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");
        var queued = Assert.Single((await (await tenant.GetAsync("/v1/compliance/reviews")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        Assert.Equal(("counterparty", wallet), (queued.Str("subject"), queued.Str("wallet_id")));
        Assert.Contains(queued.Str("id"), refused.Str("detail"), StringComparison.Ordinal);
        Assert.Equal("100.00", await tenant.PostedAsync(wallet));

        await tenant.ResolveAsync(queued.Str("id"), "cleared");
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", listed)).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", new { amount = "1.00", counterparty = new { name = "Northwind Bakery" } }))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("89.00", await tenant.PostedAsync(wallet));
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/deposit", listed)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task ANewWatchlist_RescreensTheOwners_AsAJob_AndPutsTheNewlyListedUnderReview()
    {
        var (tenantId, tenant) = await api.Factory.CreateOperatorTenantAsync("rescreen");
        var first = await tenant.ImportWatchlistAsync("first", "name,aliases,date_of_birth,country\nSomebody Unrelated,,,\n", HttpStatusCode.Created);
        Assert.Equal("completed", (await tenant.JobEndedAsync(first.GetProperty("rescreening").Str("id"))).Str("status"));
        var named = await tenant.CreateOwnedWalletAsync("person-4", new { name = "Quentin A. Fairweather", country = "GB" });
        var cleared = await tenant.CreateOwnedWalletAsync("person-5", new { name = "Hortensia Delacroix-Obi" });
        var bystander = await tenant.CreateOwnedWalletAsync("person-6", new { name = "John Smith" });
        Assert.All([named, cleared, bystander], w => Assert.Null(w.GetProperty("compliance_review").GetString()));

        var imported = await tenant.ImportWatchlistAsync("second",
            "name,aliases,date_of_birth,country\nFairweather Quentin,,,GB\nHortensia Delacroix Obi,,,\n", HttpStatusCode.Created);
        var job = await tenant.JobEndedAsync(imported.GetProperty("rescreening").Str("id"));

        Assert.Equal(("rescreening", "watchlist", "completed", 3, 2), (job.Str("kind"), job.Str("trigger"), job.Str("status"),
            job.GetProperty("screened").GetInt32(), job.GetProperty("flagged").GetInt32()));
        var review = (await tenant.GetWalletAsync(named.Str("id"))).GetProperty("compliance_review").GetString();
        Assert.NotNull(review);
        Assert.Null((await tenant.GetWalletAsync(bystander.Str("id"))).GetProperty("compliance_review").GetString());
        await tenant.DepositAsync(named.Str("id"), "5.00");
        await (await tenant.PostJsonAsync($"/v1/wallets/{named.Str("id")}/withdraw", new { amount = "1.00" }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "compliance_review");

        // Cleared, the same finding is not raised again by the next rescreening; a new one would be.
        await tenant.ResolveAsync((await tenant.GetWalletAsync(cleared.Str("id"))).Str("compliance_review"), "cleared");
        var again = await tenant.ImportWatchlistAsync("first", "name,aliases,date_of_birth,country\nSomebody Unrelated,,,\n", HttpStatusCode.Created);
        var second = await tenant.JobEndedAsync(again.GetProperty("rescreening").Str("id"));
        Assert.Equal(("completed", 2, 0), (second.Str("status"), second.GetProperty("screened").GetInt32(), second.GetProperty("flagged").GetInt32()));
        Assert.Null((await tenant.GetWalletAsync(cleared.Str("id"))).GetProperty("compliance_review").GetString());

        var jobs = await (await tenant.GetAsync("/v1/compliance/jobs")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(again.GetProperty("rescreening").Str("id"), jobs.GetProperty("data")[0].Str("id"));
        await (await tenant.GetAsync("/v1/compliance/jobs/job_missing")).ExpectProblemAsync(HttpStatusCode.NotFound, "job_not_found");

        // The schedule: the tenant's rescreening grain holds a reminder ticking once a day.
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        await using var reminder = new NpgsqlCommand(
            "SELECT period FROM orleans_reminders WHERE reminder_name = 'compliance-rescreening' AND grain_id LIKE @grain", connection);
        reminder.Parameters.AddWithValue("grain", "%" + tenantId);
        Assert.Equal((long)TimeSpan.FromDays(1).TotalMilliseconds, Convert.ToInt64(await reminder.ExecuteScalarAsync()));
    }
}
