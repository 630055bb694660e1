using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Compliance;

/// <summary>
/// Screening names against the sample watchlist the project ships (docs/compliance/sample-watchlist.csv):
/// its entries are found under misspellings, other word orders, other scripts and dropped accents;
/// common names that are on no list are clear.
/// </summary>
public sealed class ScreeningTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Theory]
    [InlineData("Ivan Petrovich Sidorenko", "Ivan Petrovich Sidorenko")] // as listed
    [InlineData("Ivan Petrovitch Sidorenko", "Ivan Petrovich Sidorenko")] // misspelt
    [InlineData("Sidorenko Ivan Petrovich", "Ivan Petrovich Sidorenko")] // family name first
    [InlineData("Иван Петрович Сидоренко", "Ivan Petrovich Sidorenko")] // Cyrillic
    [InlineData("Mohamed Abdullah Al Rashidi", "Mohammed Abdullah Al-Rashidi")] // a common other spelling
    [InlineData("Al-Rashidi, Mohammed Abdullah", "Mohammed Abdullah Al-Rashidi")] // reordered, with a comma
    [InlineData("Jose Alvarez Nunez", "José Álvarez Núñez")] // accents dropped
    [InlineData("NUNEZ JOSE ALVAREZ", "José Álvarez Núñez")] // capitals, reordered
    [InlineData("Weiming Zhang", "Zhang Weiming")] // given name first
    [InlineData("Olena Kovalchuk Brandt", "Olena Kovalchuk-Brandt")] // no hyphen
    [InlineData("Δημήτριος Παπαδάκης", "Dimitrios Papadakis-Lamprou")] // Greek, by its alias
    [InlineData("Dimitrios Papadakis", "Dimitrios Papadakis-Lamprou")] // Latin, found by the alias listed in Greek
    [InlineData("Сидоренко Иван", "Ivan Petrovich Sidorenko")] // Cyrillic, reordered, found by a Latin alias
    [InlineData("Northwind Maritime Trading", "Northwind Maritime Trading LLC")] // a company without its suffix
    public async Task ListedNames_AreFound_AsTheyAreWrittenElsewhere(string screened, string listed)
    {
        var tenant = await TenantWithSampleListAsync();

        var screening = await ScreenAsync(tenant, new { name = screened });

        Assert.NotEqual("clear", screening.Str("status"));
        Assert.Equal(listed, screening.GetProperty("hits")[0].GetProperty("entry").Str("name"));
        var kept = await (await tenant.GetAsync($"/v1/compliance/screenings/{screening.Str("id")}")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(JsonElement.DeepEquals(screening, kept), $"kept {kept}, answered {screening}");
    }

    [Theory]
    [InlineData("John Smith")]
    [InlineData("Maria Garcia")]
    [InlineData("Wei Zhang")]
    [InlineData("Ivan Petrov")]
    [InlineData("Mohammed Ali")]
    [InlineData("Olena Shevchenko")]
    [InlineData("Northwind Bakery")]
    public async Task CommonNames_OnNoList_AreClear(string screened)
    {
        var tenant = await TenantWithSampleListAsync();

        var screening = await ScreenAsync(tenant, new { name = screened });

        Assert.Equal("clear", screening.Str("status"));
        Assert.Empty(screening.GetProperty("hits").EnumerateArray());
    }

    [Fact]
    public async Task ANameThatIsListed_WithAnotherDateOfBirth_IsAPotentialMatch_AndWithItsOwnAMatch()
    {
        var tenant = await TenantWithSampleListAsync();

        var same = await ScreenAsync(tenant, new { name = "Ivan Petrovich Sidorenko", country = "ru", date_of_birth = "1961-03-14" });
        var other = await ScreenAsync(tenant, new { name = "Ivan Petrovich Sidorenko", date_of_birth = "1990-01-01" });

        Assert.Equal(("match", "RU"), (same.Str("status"), same.Str("country")));
        Assert.Equal(100, same.GetProperty("hits")[0].GetProperty("score").GetInt32());
        Assert.Equal("potential_match", other.Str("status"));
    }

    [Fact]
    public async Task AWatchlist_ImportedAgainUnderItsName_IsReplaced_AndABadFileChangesNothing()
    {
        var tenant = await TenantWithSampleListAsync();
        // Screened once against the list before it is replaced, so the silo has its entries in hand.
        Assert.NotEqual("clear", (await ScreenAsync(tenant, new { name = "Ivan Petrovich Sidorenko" })).Str("status"));
        await ImportAsync(tenant, "sample", "name,aliases,date_of_birth,country\nSomeone Else Entirely,,,\n", HttpStatusCode.Created);

        var lists = (await (await tenant.GetAsync("/v1/compliance/watchlists")).ExpectAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(("sample", 1), (Assert.Single(lists).Str("name"), lists[0].GetProperty("entries").GetInt32()));
        Assert.Equal("clear", (await ScreenAsync(tenant, new { name = "Ivan Petrovich Sidorenko" })).Str("status"));

        foreach (var bad in (string[])["name,aliases,country\nX,,\n", "name,aliases,date_of_birth,country\nX,,31/01/1970,\n",
                     "name,aliases,date_of_birth,country\nX,,,Russia\n", "name,aliases,date_of_birth,country\n"])
        {
            var problem = await ImportAsync(tenant, "sample", bad, HttpStatusCode.BadRequest);
            Assert.Equal("file_unreadable", problem.Str("code"));
        }

        Assert.NotEqual("clear", (await ScreenAsync(tenant, new { name = "Someone Else Entirely" })).Str("status"));
        await (await tenant.GetAsync("/v1/compliance/screenings/scr_missing")).ExpectProblemAsync(HttpStatusCode.NotFound, "screening_not_found");
        await (await tenant.PostJsonAsync("/v1/compliance/screenings", new { name = "—" })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
    }

    private Task<HttpClient> TenantWithSampleListAsync() => api.Factory.TenantWithSampleListAsync("screening");

    private static Task<JsonElement> ImportAsync(HttpClient tenant, string name, string csv, HttpStatusCode status) =>
        tenant.ImportWatchlistAsync(name, csv, status);

    private static Task<JsonElement> ScreenAsync(HttpClient tenant, object request) => tenant.ScreenAsync(request);
}
