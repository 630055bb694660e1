using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// A card number is checked and then forgotten: after cards are issued (and refused, and replayed)
/// and authorized, neither a dump of the whole database nor any line the silo logged, at any level,
/// holds a number in any spelling, nor its plain SHA-256. Each test runs its own silo over its own
/// database, so the dump and the logs are this test's alone.
/// </summary>
public sealed class CardSecrecyTests : IAsyncLifetime
{
    // Well-known test numbers of four networks, and one that fails the Luhn check.
    private static readonly string[] KnownNumbers = ["4000056655665556", "5555555555554444", "378282246310005", "6011111111111117"];
    private const string LuhnFailing = "4000056655665557";

    private static readonly TimeSpan DumpTimeout = TimeSpan.FromMinutes(2);

    private static readonly Dictionary<string, string?> TraceEverything = new()
    {
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Trace",
    };

    private readonly CapturedLogs _logs = new();
    private WalletApiFactory? _factory;

    private WalletApiFactory Factory => _factory ?? throw new InvalidOperationException("The test is not initialized.");

    public async Task InitializeAsync()
    {
        _factory = await WalletApiFactory.CreateAsync("card_secrecy", TraceEverything);
        // Added to the running silo's logger factory: every logger, those created at start-up included, now writes here too.
        _factory.GetService<ILoggerFactory>().AddProvider(_logs);
    }

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }
    }

    [Fact]
    public async Task DatabaseDump_AfterCardsAndAuthorizations_HoldsNoCardNumber()
    {
        var cardIds = await IssueAndAuthorizeAsync();

        var dump = await DumpAsync(Factory.ConnectionString);

        // The dump holds the rows: without this, a dump of nothing would pass.
        Assert.All(cardIds, id => Assert.Contains(id, dump, StringComparison.Ordinal));
        Assert.Contains("card_authorizations", dump, StringComparison.Ordinal);
        foreach (var secret in KnownNumbers.Append(LuhnFailing).SelectMany(Spellings))
        {
            Assert.False(dump.Contains(secret, StringComparison.OrdinalIgnoreCase), $"the database dump contains '{secret}'");
        }
    }

    [Fact]
    public async Task SiloLogs_AfterCardsAndAuthorizations_HoldNoCardNumber()
    {
        var cardIds = await IssueAndAuthorizeAsync();

        var lines = _logs.Lines.ToList();
        Assert.NotEmpty(lines);
        // Lines of the ledger's own categories, below Information, and naming the cards reach the capture: it would see a leak.
        Assert.Contains(lines, l => l.Category.StartsWith("Wallet.", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Level <= LogLevel.Debug);
        Assert.Contains(lines, l => l.Text.Contains(cardIds[0], StringComparison.Ordinal));
        foreach (var secret in KnownNumbers.Append(LuhnFailing).SelectMany(Spellings))
        {
            var leak = lines.FirstOrDefault(l => l.Text.Contains(secret, StringComparison.OrdinalIgnoreCase));
            Assert.True(leak is null, $"a log line contains '{secret}': {leak}");
        }
    }

    /// <summary>
    /// Issues a card for each known number (with an Idempotency-Key, then replayed), tries each again
    /// as a duplicate, on an unknown wallet, in malformed JSON and as a JSON number, issues it in a
    /// second tenant, and runs approvals, declines, a capture and a reversal on every card.
    /// </summary>
    private async Task<List<string>> IssueAndAuthorizeAsync()
    {
        using var tenant = await Factory.CreateTenantClientAsync(CardCalls.NewTenant("secrecy"));
        using var other = await Factory.CreateTenantClientAsync(CardCalls.NewTenant("secrecy"));
        var wallet = await tenant.FundedWalletAsync("1000.00");
        var otherWallet = await other.FundedWalletAsync("1000.00");
        var cardIds = new List<string>();
        foreach (var number in KnownNumbers)
        {
            var key = ApiCalls.NewKey();
            var card = await (await tenant.IssueAsync(wallet, number, new { per_authorization = "100.00" }, key)).ExpectAsync(HttpStatusCode.Created);
            await (await tenant.IssueAsync(wallet, number, new { per_authorization = "100.00" }, key)).ExpectAsync(HttpStatusCode.Created);
            await (await tenant.IssueAsync(wallet, number)).ExpectProblemAsync(HttpStatusCode.Conflict, "card_number_exists");
            await (await tenant.IssueAsync(CardCalls.UnknownWallet, number)).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
            var asJsonNumber = JsonSerializer.Serialize(new { wallet_id = wallet, cardholder_name = "Ada", card_number = long.Parse(number, CultureInfo.InvariantCulture) });
            await (await tenant.PostJsonAsync("/v1/cards", asJsonNumber)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
            var unterminated = JsonSerializer.Serialize(new { wallet_id = wallet, cardholder_name = "Ada", card_number = number })[..^1];
            await (await tenant.PostJsonAsync("/v1/cards", unterminated)).ExpectProblemAsync(HttpStatusCode.BadRequest, "malformed_json");
            cardIds.Add(card.Str("id"));
            cardIds.Add((await (await other.IssueAsync(otherWallet, number)).ExpectAsync(HttpStatusCode.Created)).Str("id"));

            var cardId = card.Str("id");
            var captured = await (await tenant.AuthorizeAsync(cardId, "20.00", idempotencyKey: ApiCalls.NewKey())).ExpectAsync(HttpStatusCode.Created);
            await (await tenant.ActAsync(captured.Str("id"), "capture", new { amount = "15.00", final = true })).ExpectAsync(HttpStatusCode.OK);
            var reversed = await tenant.ApproveAsync(cardId, "10.00");
            await (await tenant.ActAsync(reversed.Str("id"), "reverse", new { })).ExpectAsync(HttpStatusCode.OK);
            await (await tenant.AuthorizeAsync(cardId, "150.00")).ExpectDeclinedAsync(tenant, HttpStatusCode.UnprocessableEntity, "limit_exceeded");
            await (await tenant.AuthorizeAsync(cardId, "10.00", "FRAUD_CORP")).ExpectDeclinedAsync(tenant, HttpStatusCode.Forbidden, "fraud_blocked");
        }

        await (await tenant.IssueAsync(wallet, LuhnFailing)).ExpectProblemAsync(HttpStatusCode.BadRequest, "card_number_invalid");
        await tenant.AssertBalancesAsync(wallet, "940.00", "0.00", "940.00");
        using var operatorClient = Factory.CreateOperatorClient();
        await operatorClient.AssertVerifiedAsync();
        return cardIds;
    }

    /// <summary>The number as stored, printed or hashed naively: plain, in groups with spaces or dashes, and its SHA-256.</summary>
    private static IEnumerable<string> Spellings(string number)
    {
        yield return number;
        var groups = number.Length == 15
            ? [number[..4], number[4..10], number[10..]] // 4-6-5, as American Express numbers are printed
            : number.Chunk(4).Select(c => new string(c)).ToArray();
        yield return string.Join(' ', groups);
        yield return string.Join('-', groups);
        yield return Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(number)));
    }

    /// <summary>A plain-text pg_dump of the database, schema and data, from the newest installed pg_dump.</summary>
    private static async Task<string> DumpAsync(string connectionString)
    {
        var connection = new NpgsqlConnectionStringBuilder(connectionString);
        var startInfo = new ProcessStartInfo(FindPgDump())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--host", connection.Host!, "--port", connection.Port.ToString(CultureInfo.InvariantCulture),
            "--username", connection.Username!, "--dbname", connection.Database!, "--no-password",
        })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("pg_dump did not start");
        using var timeout = new CancellationTokenSource(DumpTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"pg_dump exited with {process.ExitCode}: {await errors}");
        return await output;
    }

    private static string FindPgDump()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("WALLET_PG_BIN");
        if (!string.IsNullOrWhiteSpace(fromEnvironment) && File.Exists(Path.Combine(fromEnvironment, "pg_dump")))
        {
            return Path.Combine(fromEnvironment, "pg_dump");
        }

        const string debianRoot = "/usr/lib/postgresql";
        var newest = Directory.Exists(debianRoot)
            ? Directory.EnumerateDirectories(debianRoot)
                .Select(d => (Version: decimal.TryParse(Path.GetFileName(d), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) ? v : -1, Tool: Path.Combine(d, "bin", "pg_dump")))
                .Where(v => v.Version >= 0 && File.Exists(v.Tool))
                .OrderByDescending(v => v.Version)
                .Select(v => v.Tool)
                .FirstOrDefault()
            : null;
        return newest ?? "pg_dump";
    }
}
