using System.Net;
using System.Text.Json;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Cards;
using Xunit;

namespace Wallet.Tests.Compliance;

/// <summary>
/// Data subject requests: an export gives every record about an owner as a JSON file; an erasure
/// leaves no personal field of theirs readable anywhere in the database, while the ledger's entries
/// and balances stay as they were and verify still passes.
/// </summary>
public sealed class DataRequestTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task AnErasure_LeavesNoPersonalFieldReadable_AndTheLedgerVerified()
    {
        var tenant = await api.Factory.TenantWithSampleListAsync("erasure");
        var ownerId = "subject-" + Guid.NewGuid().ToString("N");
        // A name found nowhere else, so that finding it anywhere is finding this owner.
        var name = "Philippa " + Letters(10) + " Ormsby";
        const string Born = "1907-02-03";
        var key = ApiCalls.NewKey();
        var created = await tenant.CreateOwnedWalletAsync(ownerId, new { name, country = "NZ", date_of_birth = Born }, key);
        var wallet = created.Str("id");
        var second = (await tenant.CreateOwnedWalletAsync(ownerId, new { name, country = "NZ" })).Str("id");
        await tenant.DepositAsync(wallet, "100.00");
        await (await tenant.TransferAsync(wallet, second, "30.00")).ExpectAsync(HttpStatusCode.Created);
        await (await tenant.PostJsonAsync($"/v1/wallets/{wallet}/withdraw", new { amount = "5.00" })).ExpectAsync(HttpStatusCode.Created);
        var card = await (await tenant.PostJsonAsync("/v1/cards",
            new { wallet_id = wallet, cardholder_name = name, card_number = CardCalls.NewCardNumber() }, ApiCalls.NewKey())).ExpectAsync(HttpStatusCode.Created);
        await tenant.GetAsync($"/v1/cards/{card.Str("id")}"); // its grain active, holding the name
        var historyBefore = await tenant.HistoryAsync(wallet);
        Assert.True(await FoundAsync(name) > 0);

        var erasure = await (await tenant.PostJsonAsync("/v1/compliance/data-requests", new { owner_id = ownerId, kind = "erasure" })).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal((2, 1, 2), (erasure.GetProperty("erased").GetProperty("wallets").GetInt32(), erasure.GetProperty("erased").GetProperty("cards").GetInt32(),
            erasure.GetProperty("erased").GetProperty("screenings").GetInt32()));
        Assert.Equal(0, await FoundAsync(name));
        Assert.Equal(0, await FoundAsync(Born));
        var owner = (await tenant.GetWalletAsync(wallet)).GetProperty("owner");
        Assert.StartsWith("erased-", owner.Str("name"), StringComparison.Ordinal);
        Assert.True(owner.GetProperty("erased").GetBoolean());
        Assert.Equal(JsonValueKind.Null, owner.GetProperty("date_of_birth").ValueKind);
        Assert.Equal(owner.Str("name"), (await tenant.GetCardAsync(card.Str("id"))).Str("cardholder_name"));
        var replay = await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "USD", owner_id = ownerId, owner = new { name, country = "NZ", date_of_birth = Born } }, key))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.Equal((wallet, owner.Str("name")), (replay.Str("id"), replay.GetProperty("owner").Str("name")));

        // The money is as it was.
        Assert.Equal("65.00", await tenant.PostedAsync(wallet));
        Assert.Equal("30.00", await tenant.PostedAsync(second));
        Assert.Equal(historyBefore.Select(h => h.GetRawText()), (await tenant.HistoryAsync(wallet)).Select(h => h.GetRawText()));
        var verify = await (await tenant.GetAsync("/v1/ledger/verify")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
        Assert.True((await (await tenant.GetAsync("/v1/audit/verify")).ExpectAsync(HttpStatusCode.OK)).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task AnExport_GivesEveryRecordAboutTheOwner_AsAJsonFile()
    {
        var tenant = await api.Factory.TenantWithSampleListAsync("export");
        var ownerId = "subject-" + Guid.NewGuid().ToString("N");
        var wallet = (await tenant.CreateOwnedWalletAsync(ownerId, new { name = "Ivan Sidorenko", country = "RU" })).Str("id");
        await tenant.DepositAsync(wallet, "20.00");
        var card = await tenant.CreateCardAsync(wallet);
        var unrelated = await tenant.CreateOwnedWalletAsync("someone-else", new { name = "Maria Garcia" });

        var request = await (await tenant.PostJsonAsync("/v1/compliance/data-requests", new { owner_id = ownerId, kind = "export" })).ExpectAsync(HttpStatusCode.Created);
        var response = await tenant.GetAsync(request.Str("export"));
        var file = await response.ExpectAsync(HttpStatusCode.OK);

        Assert.Equal($"{request.Str("id")}.json", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.Equal(ownerId, file.Str("owner_id"));
        var records = file.GetProperty("records");
        var owned = Assert.Single(records.GetProperty("wallets").EnumerateArray());
        Assert.Equal((wallet, "Ivan Sidorenko"), (owned.Str("id"), owned.GetProperty("owner").Str("name")));
        Assert.Single(records.GetProperty("entries").EnumerateArray());
        Assert.Single(records.GetProperty("postings").EnumerateArray());
        Assert.Equal(card.Str("id"), Assert.Single(records.GetProperty("cards").EnumerateArray()).Str("id"));
        Assert.False(Assert.Single(records.GetProperty("cards").EnumerateArray()).TryGetProperty("number_hash", out _));
        Assert.Equal("owner", Assert.Single(records.GetProperty("screenings").EnumerateArray()).Str("subject"));
        Assert.Equal(request.Str("id"), Assert.Single(records.GetProperty("data_requests").EnumerateArray()).Str("id"));
        Assert.DoesNotContain(unrelated.Str("id"), file.GetRawText(), StringComparison.Ordinal);

        await (await tenant.PostJsonAsync("/v1/compliance/data-requests", new { owner_id = "nobody", kind = "export" }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "owner_not_found");
        await (await tenant.PostJsonAsync("/v1/compliance/data-requests", new { owner_id = ownerId, kind = "forget" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await tenant.GetAsync("/v1/compliance/data-requests/dsr_missing")).ExpectProblemAsync(HttpStatusCode.NotFound, "data_request_not_found");
        Assert.Equal("export", (await (await tenant.GetAsync($"/v1/compliance/data-requests/{request.Str("id")}")).ExpectAsync(HttpStatusCode.OK)).Str("kind"));
    }

    /// <summary>How many rows of the whole database, in any table, hold <paramref name="text"/>.</summary>
    private async Task<long> FoundAsync(string text)
    {
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        long found = 0;
        foreach (var table in tables)
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table} t WHERE t::text ILIKE '%' || @text || '%'", connection);
            count.Parameters.AddWithValue("text", text);
            found += (long)(await count.ExecuteScalarAsync())!;
        }

        return found;
    }

    private static string Letters(int count) => new(Enumerable.Range(0, count).Select(_ => (char)('a' + Random.Shared.Next(26))).ToArray());
}
