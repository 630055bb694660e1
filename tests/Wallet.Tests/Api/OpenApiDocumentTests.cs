using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wallet.Tests.Infrastructure;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>
/// The OpenAPI document the silo serves is the one checked in as <c>docs/openapi.json</c>, which
/// clients are generated from and reviews read. After changing the API, run this test with
/// <c>WALLET_UPDATE_OPENAPI=1</c> to write the served document there, and commit it.
/// </summary>
public sealed class OpenApiDocumentTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    public const string UpdateVariable = "WALLET_UPDATE_OPENAPI";

    public static string CheckedInPath => Path.Combine(RepositoryPaths.Root(), "docs", "openapi.json");

    [Fact]
    public async Task Document_AsServed_IsTheCheckedInOne()
    {
        using var anonymous = api.Factory.CreateClient();
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = Normalize(await response.Content.ReadAsStringAsync());

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            await File.WriteAllTextAsync(CheckedInPath, served);
        }

        Assert.True(File.Exists(CheckedInPath), $"{CheckedInPath} is missing: run this test with {UpdateVariable}=1 to write it");
        var checkedIn = await File.ReadAllTextAsync(CheckedInPath);
        var (line, expected, actual) = FirstDifference(checkedIn, served);
        Assert.True(line == 0,
            $"docs/openapi.json differs from the served document at line {line}: checked in \"{expected}\", served \"{actual}\". " +
            $"Run this test with {UpdateVariable}=1 to write the served one, and commit it.");
    }

    /// <summary>The document indented, one member per line, so that a change reads as a diff.</summary>
    public static string Normalize(string json) =>
        JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    private static (int Line, string Expected, string Actual) FirstDifference(string expected, string actual)
    {
        var left = expected.ReplaceLineEndings("\n").Split('\n');
        var right = actual.Split('\n');
        for (var i = 0; i < Math.Max(left.Length, right.Length); i++)
        {
            var a = i < left.Length ? left[i] : "(end)";
            var b = i < right.Length ? right[i] : "(end)";
            if (a != b)
            {
                return (i + 1, a.Trim(), b.Trim());
            }
        }

        return (0, "", "");
    }
}
