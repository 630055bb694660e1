using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Reconciliation;

/// <summary>
/// Reconciliation sources and the external records that come in for them, through the API and
/// into PostgreSQL: a bank's CSV streamed in and read through the source's mapping (separators,
/// signs, times in the source's zone), bad rows named with their lines and handled per the source's
/// setting, the same file twice imported once, records pushed as JSON, and every refusal storing
/// nothing.
/// </summary>
public sealed class ReconImportTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string BankCsv = """
        txn_id,booked,amount,ccy,ref,memo
        B-1,2025-07-13,"1,250.00",USD,TR-1,Card settlement
        B-2,2025-07-13 09:30,-15.50,usd,TR-2,"Fee, monthly"
        B-3,2025-07-14T08:00:00+02:00,(20.00),USD,,Chargeback
        """;

    private static readonly object BankMapping = new
    {
        external_id = "txn_id", amount = "amount", currency = "ccy", timestamp = "booked", reference = "ref", description = "memo",
        thousands_separator = ",", time_zone = "America/New_York",
    };

    [Fact]
    public async Task CreateSource_FillsEveryDefault_AndIsTheTenantsAlone()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name = "bank", ledger_account = "@settlement", mapping = BankMapping }))
            .ExpectAsync(HttpStatusCode.Created);

        Assert.StartsWith("rsrc_", source.Str("id"), StringComparison.Ordinal);
        Assert.Equal(("bank", "@settlement", "csv", "refuse_file"), (source.Str("name"), source.Str("ledger_account"), source.Str("format"), source.Str("bad_rows")));
        var mapping = source.GetProperty("mapping");
        Assert.Equal(("credit_positive", ".", ",", ","), (mapping.Str("amount_sign"), mapping.Str("decimal_separator"), mapping.Str("thousands_separator"), mapping.Str("delimiter")));
        var tolerances = source.GetProperty("tolerances");
        Assert.Equal(("0.00", 259200, 0.8), (tolerances.Str("amount"), tolerances.GetProperty("time_window_seconds").GetInt32(), tolerances.GetProperty("fuzzy_threshold").GetDouble()));
        Assert.Equal(JsonValueKind.Null, source.GetProperty("schedule").ValueKind);

        var read = await (await tenant.GetAsync($"/v1/reconciliation/sources/{source.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(source.GetRawText(), read.GetRawText());
        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name = "bank", ledger_account = "@settlement", mapping = BankMapping }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "source_exists");
        var (_, other) = await api.Factory.CreateOperatorTenantAsync("recon");
        await (await other.GetAsync($"/v1/reconciliation/sources/{source.Str("id")}")).ExpectProblemAsync(HttpStatusCode.NotFound, "source_not_found");
        var client = await api.Factory.CreateTenantClientAsync("recon-client");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/v1/reconciliation/sources")).StatusCode);
    }

    [Theory]
    [InlineData("""{"name":"x","ledger_account":"@settlement"}""", "mapping is required")]
    [InlineData("""{"name":"x","ledger_account":"@nowhere","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d"}}""", "not a system account")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"amount":"b","timestamp":"c","currency":"d"}}""", "mapping.external_id is required")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c"}}""", "mapping.currency")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"a","timestamp":"c","currency":"d"}}""", "names a column twice")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d","decimal_separator":",","thousands_separator":","}}""", "must differ")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d","time_zone":"Mars/Base"}}""", "mapping.time_zone")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d"},"tolerances":{"fuzzy_threshold":1.5}}""", "tolerances.fuzzy_threshold")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d"},"schedule":{"cron":"every day"}}""", "schedule.cron")]
    [InlineData("""{"name":"x","ledger_account":"@settlement","format":"xml","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d"}}""", "format must be one of")]
    [InlineData("""{"name":"-x","ledger_account":"@settlement","mapping":{"external_id":"a","amount":"b","timestamp":"c","currency":"d"}}""", "name must start")]
    public async Task CreateSource_WithABadField_IsRefusedWithItsName(string body, string said)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        var problem = await (await api.Client.PostAsync("/v1/reconciliation/sources", content)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Contains(said, problem.Str("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateSource_ForAWalletOfAnotherTenant_OrAnUnknownCurrency_IsRefused()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var theirs = await api.Client.CreateWalletAsync();

        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name = "w", ledger_account = theirs, mapping = BankMapping }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new
        {
            name = "c", ledger_account = "@settlement", mapping = new { external_id = "a", amount = "b", timestamp = "c", currency_default = "ZZZ" },
        })).ExpectProblemAsync(HttpStatusCode.BadRequest, "unknown_currency");
        var mine = await tenant.CreateWalletAsync();
        await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name = "w", ledger_account = mine, mapping = BankMapping })).ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task UploadFile_ReadsEveryRecordThroughTheMapping()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "bank", BankMapping);

        var import = await (await UploadAsync(tenant, source, BankCsv, "july.csv")).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal((3, 3, 0, 0), (Int(import, "rows"), Int(import, "imported"), Int(import, "duplicates"), Int(import, "bad_row_count")));
        Assert.Equal(("july.csv", Encoding.UTF8.GetByteCount(BankCsv)), (import.Str("name"), Int(import, "size_bytes")));
        Assert.Equal(64, import.Str("sha256").Length);
        Assert.Equal(
            [
                ("B-1", 125000L, "USD", new DateTimeOffset(2025, 7, 13, 4, 0, 0, TimeSpan.Zero), "TR-1", "Card settlement", 2),
                ("B-2", -1550L, "USD", new DateTimeOffset(2025, 7, 13, 13, 30, 0, TimeSpan.Zero), "TR-2", "Fee, monthly", 3),
                ("B-3", -2000L, "USD", new DateTimeOffset(2025, 7, 14, 6, 0, 0, TimeSpan.Zero), null, "Chargeback", 4),
            ],
            await RecordsAsync(source));
        var files = await (await tenant.GetAsync($"/v1/reconciliation/sources/{source}/files")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal([import.Str("id")], files.GetProperty("data").EnumerateArray().Select(f => f.Str("id")));
    }

    [Fact]
    public async Task UploadFile_TheSameFileTwice_IsImportedOnce_AndANewFileKeepsOnlyNewRecords()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "bank", BankMapping);
        var first = await (await UploadAsync(tenant, source, BankCsv)).ExpectAsync(HttpStatusCode.Created);

        var again = await (await UploadAsync(tenant, source, BankCsv, "renamed.csv")).ExpectAsync(HttpStatusCode.OK);
        var overlapping = await (await UploadAsync(tenant, source, BankCsv + "\nB-4,2025-07-15,5.00,USD,TR-4,Late\n")).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(first.GetRawText(), again.GetRawText());
        Assert.Equal((4, 1, 3), (Int(overlapping, "rows"), Int(overlapping, "imported"), Int(overlapping, "duplicates")));
        Assert.Equal(["B-1", "B-2", "B-3", "B-4"], (await RecordsAsync(source)).Select(r => r.ExternalId));
    }

    [Fact]
    public async Task UploadFile_WithBadRows_IsRefusedWhole_OrImportedWithoutThem_PerTheSource()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        const string Csv = """
            txn_id,booked,amount,ccy,ref,memo
            B-1,2025-07-13,10.00,USD,R1,ok
            B-2,13/07/2025,10.00,USD,R2,a date not ISO
            B-3,2025-07-13,10.005,USD,R3,too precise
            ,2025-07-13,10.00,USD,R4,no id
            B-5,2025-07-13,10.00,XYZ,R5,no such currency
            B-6,2025-07-13,0.00,USD,R6,zero
            B-7,2025-07-13,ten,USD,R7,not a number
            B-8,2025-07-13,10.00,USD
            """;
        var strict = await CreateSourceAsync(tenant, "strict", BankMapping);
        var lenient = await CreateSourceAsync(tenant, "lenient", BankMapping, badRows: "skip_row");

        var refused = await (await UploadAsync(tenant, strict, Csv)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "records_rejected");
        var skipped = await (await UploadAsync(tenant, lenient, Csv)).ExpectAsync(HttpStatusCode.Created);

        var expected = new[]
        {
            (3, "booked (the time)"), (4, "amount (the amount)"), (5, "txn_id (the external id) is empty"), (6, "XYZ is not a currency"),
            (7, "it is zero"), (8, "amount (the amount)"), (9, "the row does not have the header's 6 fields"),
        };
        foreach (var (answer, name) in new[] { (refused, "refused"), (skipped, "skipped") })
        {
            var bad = answer.GetProperty("bad_rows").EnumerateArray().Select(b => (b.GetProperty("line").GetInt32(), b.Str("reason"))).ToList();
            Assert.True(expected.Select(e => e.Item1).SequenceEqual(bad.Select(b => b.Item1)), $"{name}: {answer}");
            Assert.All(expected.Zip(bad), pair => Assert.Contains(pair.First.Item2, pair.Second.Item2, StringComparison.Ordinal));
            Assert.Equal(7, Int(answer, "bad_row_count"));
        }

        Assert.Empty(await RecordsAsync(strict));
        Assert.Equal(["B-1"], (await RecordsAsync(lenient)).Select(r => r.ExternalId));
        Assert.Equal((8, 1), (Int(skipped, "rows"), Int(skipped, "imported")));
        var strictFiles = await (await tenant.GetAsync($"/v1/reconciliation/sources/{strict}/files")).ExpectAsync(HttpStatusCode.OK);
        Assert.Empty(strictFiles.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task UploadFile_WithABomSemicolonsAndALineBreakInAQuotedField_CountsLinesAsAnEditorShowsThem()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "bank", new
        {
            external_id = "Txn ID", amount = "Amount", currency = "CCY", timestamp = "Booked", description = "Memo",
            decimal_separator = ",", delimiter = ";",
        }, badRows: "skip_row");
        const string Csv = "\uFEFF Txn ID ;Booked;Amount;CCY;Memo\r\n"
            + "B-1;2025-07-13;12,50;EUR;\"two\r\nlines; and a \"\"quote\"\"\"\r\n"
            + "B-2;2025-07-13;;EUR;no amount\r\n"
            + "B-3;2025-07-14;-3,00;EUR;last\r\n";

        var import = await (await UploadAsync(tenant, source, Csv)).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal((3, 2), (Int(import, "rows"), Int(import, "imported")));
        var bad = import.GetProperty("bad_rows")[0];
        Assert.Equal(4, bad.GetProperty("line").GetInt32());
        Assert.Contains("Amount (the amount): it is empty", bad.Str("reason"), StringComparison.Ordinal);
        var records = await RecordsAsync(source);
        Assert.Equal(("B-1", 1250L, "two\r\nlines; and a \"quote\"", 2), (records[0].ExternalId, records[0].Amount, records[0].Description, records[0].Line));
        Assert.Equal(("B-3", -300L, 5), (records[1].ExternalId, records[1].Amount, records[1].Line));
    }

    [Theory]
    [InlineData("", "the file is empty")]
    [InlineData("id,when,value\n1,2025-07-13,1.00\n", "no column 'txn_id', 'amount', 'booked', 'ccy'")]
    public async Task UploadFile_ThatCannotBeRead_IsRefusedAndStoresNothing(string csv, string said)
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "bank", BankMapping);

        var problem = await (await UploadAsync(tenant, source, csv)).ExpectProblemAsync(HttpStatusCode.BadRequest, "file_unreadable");

        Assert.Contains(said, problem.Str("detail"), StringComparison.Ordinal);
        Assert.Empty(await RecordsAsync(source));
    }

    [Fact]
    public async Task UploadFile_LargerThanTheLimit_IsRefusedAtTheLimit()
    {
        await using var factory = await WalletApiFactory.CreateAsync("recon_limit", new() { ["Reconciliation:MaxFileBytes"] = "1000" });
        using var tenant = factory.CreateOperatorClient();
        var source = await CreateSourceAsync(tenant, "bank", BankMapping);
        var rows = string.Concat(Enumerable.Range(1, 100).Select(i => $"B-{i},2025-07-13,1.00,USD,R{i},x\n"));

        await (await UploadAsync(tenant, source, "txn_id,booked,amount,ccy,ref,memo\n" + rows)).ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge, "file_too_large");
        await (await UploadAsync(tenant, source, BankCsv)).ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task UploadFile_WithAnIdempotencyKey_ReplaysTheFirstAnswer_AndRefusesAnotherFile()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "bank", BankMapping);
        var key = ApiCalls.NewKey();

        var first = await UploadAsync(tenant, source, BankCsv, key: key);
        var replay = await UploadAsync(tenant, source, BankCsv, key: key);
        var other = await UploadAsync(tenant, source, BankCsv + "\nB-9,2025-07-15,5.00,USD,R9,x\n", key: key);

        var body = await first.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(body.GetRawText(), (await replay.ExpectAsync(HttpStatusCode.Created)).GetRawText());
        Assert.Equal("true", replay.Header("Idempotent-Replayed"));
        await other.ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        Assert.Equal(3, (await RecordsAsync(source)).Count);
    }

    [Fact]
    public async Task PushRecords_ReadsTheProcessorsOwnFields_AndKeepsEachExternalIdOnce()
    {
        var (_, tenant) = await api.Factory.CreateOperatorTenantAsync("recon");
        var source = await CreateSourceAsync(tenant, "processor", new
        {
            external_id = "payout_id", amount = "net", timestamp = "paid_at", currency_default = "EUR", amount_sign = "debit_positive",
            decimal_separator = ",", thousands_separator = ".",
        }, badRows: "skip_row", format: "json");

        var pushed = await (await tenant.PostJsonAsync($"/v1/reconciliation/sources/{source}/records", new
        {
            records = new object[]
            {
                new { payout_id = "P-1", net = "1.234,56", paid_at = "2025-07-13T10:00:00Z" },
                new { payout_id = "P-2", net = 7, paid_at = "2025-07-13T11:00:00Z" },
                new { payout_id = "P-1", net = "9,99", paid_at = "2025-07-13T12:00:00Z" },
                new { net = "1,00", paid_at = "2025-07-13T12:00:00Z" },
            },
        })).ExpectAsync(HttpStatusCode.Created);
        var again = await (await tenant.PostJsonAsync($"/v1/reconciliation/sources/{source}/records", new
        {
            records = new[] { new { payout_id = "P-2", net = "7", paid_at = "2025-07-13T11:00:00Z" } },
        })).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal((4, 2, 1, 1), (Int(pushed, "rows"), Int(pushed, "imported"), Int(pushed, "duplicates"), Int(pushed, "bad_row_count")));
        Assert.Equal(4, pushed.GetProperty("bad_rows")[0].GetProperty("line").GetInt32());
        Assert.Equal((0, 1), (Int(again, "imported"), Int(again, "duplicates")));
        Assert.Equal([("P-1", -123456L), ("P-2", -700L)], (await RecordsAsync(source)).Select(r => (r.ExternalId, r.Amount)));
    }

    private static async Task<string> CreateSourceAsync(HttpClient tenant, string name, object mapping, string badRows = "refuse_file", string format = "csv") =>
        (await (await tenant.PostJsonAsync("/v1/reconciliation/sources", new { name, ledger_account = "@settlement", format, mapping, bad_rows = badRows }))
            .ExpectAsync(HttpStatusCode.Created)).Str("id");

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient tenant, string source, string csv, string name = "bank.csv", string? key = null)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", name);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/reconciliation/sources/{source}/files") { Content = form };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await tenant.SendAsync(request);
    }

    private static int Int(JsonElement element, string name) => element.GetProperty(name).GetInt32();

    private async Task<List<(string ExternalId, long Amount, string Currency, DateTimeOffset At, string? Reference, string? Description, int Line)>> RecordsAsync(string source)
    {
        await using var connection = new NpgsqlConnection(api.Factory.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT external_id, amount, currency, occurred_at, reference, description, line FROM recon_records WHERE source_id = @source ORDER BY external_id", connection);
        command.Parameters.AddWithValue("source", source);
        var records = new List<(string, long, string, DateTimeOffset, string?, string?, int)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            records.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6)));
        }

        return records;
    }
}
