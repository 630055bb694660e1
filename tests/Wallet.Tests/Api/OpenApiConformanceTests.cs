using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The checker every API test's answers pass through (<see cref="OpenApiConformance"/>): what it
/// reports against the checked-in document, so that a test passing means the answers conform.
/// </summary>
public sealed class OpenApiConformanceTests
{
    private const string Wallet = """
        {"id":"wal_1","currency":"USD","status":"active","owner_id":null,"balance":{"posted":"1.00","pending":"0.00","available":"1.00"},
         "overdraft_limit":"0.00","metadata":{"plan":"gold"},"created_at":"2030-01-02T03:04:05.123456Z"}
        """;

    [Fact]
    public void Check_AWalletAsTheApiSendsIt_Conforms()
    {
        Assert.Empty(OpenApiConformance.Check("GET", "/v1/wallets/wal_1", 200, "application/json", Wallet));
    }

    [Fact]
    public void Check_AStatusTheOperationDoesNotList_IsReported()
    {
        var problems = OpenApiConformance.Check("GET", "/v1/wallets/wal_1", 402, "application/problem+json", "");

        Assert.Contains("status 402 is not listed for GET /v1/wallets/{id}", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_AMemberTheSchemaDoesNotName_IsReported()
    {
        var problems = OpenApiConformance.Check("GET", "/v1/wallets/wal_1", 200, "application/json", Wallet.Replace("\"id\":", "\"tier\":2,\"id\":", StringComparison.Ordinal));

        Assert.Equal(["$.tier is sent but not in the schema"], problems);
    }

    [Fact]
    public void Check_AMissingMemberOrAWrongType_IsReported()
    {
        var body = Wallet.Replace("\"status\":\"active\",", "", StringComparison.Ordinal).Replace("\"posted\":\"1.00\"", "\"posted\":1", StringComparison.Ordinal);

        var problems = OpenApiConformance.Check("GET", "/v1/wallets/wal_1", 200, "application/json", body);

        Assert.Equal(["$.status is required but missing", "$.balance.posted is Number, the schema says string"], problems);
    }

    [Fact]
    public void Check_AProblemWithACodeItsStatusDoesNotHave_IsReported()
    {
        const string Problem = """{"type":"https://wallet.dev/problems/wallet-frozen","title":"Wallet frozen","status":402,"detail":"x","code":"wallet_frozen"}""";

        var problems = OpenApiConformance.Check("POST", "/v1/wallets/wal_1/deposit", 402, "application/problem+json", Problem);

        Assert.Contains("$.code is wallet_frozen, not one of", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_AProblemWithACodeOfItsStatusThatTheRouteDoesNotList_IsReported()
    {
        // card_not_found is a 404 code, but a wallet's route cannot answer it.
        const string Problem = """{"type":"https://wallet.dev/problems/card-not-found","title":"Card not found","status":404,"detail":"x","code":"card_not_found"}""";

        var problems = OpenApiConformance.Check("GET", "/v1/wallets/wal_1", 404, "application/problem+json", Problem);

        Assert.Equal(["code card_not_found is not listed for GET /v1/wallets/{id} 404 (listed: wallet_not_found)"], problems);
    }

    [Fact]
    public void Check_ALiteralSegment_WinsOverAParameter()
    {
        // /v1/wallets/{id}/history, not /v1/wallets/{id}: a history page is not a wallet.
        Assert.Empty(OpenApiConformance.Check("GET", "/v1/wallets/wal_1/history", 200, "application/json", """{"data":[],"next_cursor":null}"""));
    }

    [Fact]
    public void Document_EveryOperation_HasAnIdASummaryATagAndExamplesThatMatchTheirSchemas()
    {
        var (problems, bodies) = OpenApiConformance.CheckExamples();

        Assert.Empty(problems);
        Assert.True(bodies >= 19, $"only {bodies} operations take a body; the API has 19 such routes");
    }

    [Fact]
    public void Check_AnApiRouteTheDocumentLacks_IsReportedUnlessTheRouteDoesNotExist()
    {
        Assert.Contains("no such operation", Assert.Single(OpenApiConformance.Check("DELETE", "/v1/wallets/wal_1", 204, null, "")), StringComparison.Ordinal);
        Assert.Empty(OpenApiConformance.Check("DELETE", "/v1/wallets/wal_1", 405, null, ""));
        Assert.Empty(OpenApiConformance.Check("GET", "/v1/nothing-here", 404, "application/problem+json", ""));
    }

    [Fact]
    public void Check_ARouteOutsideTheDocument_IsNotChecked()
    {
        Assert.Empty(OpenApiConformance.Check("GET", "/metrics", 200, "text/plain", "wallet_commit_batches_total 1"));
    }
}
