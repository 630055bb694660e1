using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Wallet.Tests.Api;
using Wallet.Tests.Infrastructure;

namespace Wallet.Tests.Compliance;

/// <summary>The compliance calls the tests make: importing watchlists, screening, and waiting for a rescreening.</summary>
internal static class ComplianceCalls
{
    public static readonly string SampleList = Path.Combine(RepositoryPaths.Root(), "docs", "compliance", "sample-watchlist.csv");

    /// <summary>A tenant of its own, with an operator key, and the sample list imported as "sample".</summary>
    public static async Task<HttpClient> TenantWithSampleListAsync(this WalletApiFactory factory, string prefix)
    {
        var (_, tenant) = await factory.CreateOperatorTenantAsync(prefix);
        await tenant.ImportWatchlistAsync("sample", await File.ReadAllTextAsync(SampleList), HttpStatusCode.Created);
        return tenant;
    }

    public static async Task<JsonElement> ImportWatchlistAsync(this HttpClient tenant, string name, string csv, HttpStatusCode status)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "list.csv");
        form.Add(new StringContent(name), "name");
        return await (await tenant.PostAsync("/v1/compliance/watchlists", form)).ExpectAsync(status);
    }

    public static async Task<JsonElement> ScreenAsync(this HttpClient tenant, object request) =>
        await (await tenant.PostJsonAsync("/v1/compliance/screenings", request)).ExpectAsync(HttpStatusCode.Created);

    /// <summary>Creates a wallet owned by <paramref name="owner"/> (an object with name, country, date_of_birth) under <paramref name="ownerId"/>.</summary>
    public static async Task<JsonElement> CreateOwnedWalletAsync(this HttpClient tenant, string ownerId, object owner, string? idempotencyKey = null) =>
        await (await tenant.PostJsonAsync("/v1/wallets", new { currency = "USD", owner_id = ownerId, owner }, idempotencyKey)).ExpectAsync(HttpStatusCode.Created);

    /// <summary>The job once it is no longer running (a rescreening runs in the background).</summary>
    public static async Task<JsonElement> JobEndedAsync(this HttpClient tenant, string jobId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var job = await (await tenant.GetAsync($"/v1/compliance/jobs/{jobId}")).ExpectAsync(HttpStatusCode.OK);
            if (job.Str("status") != "running" || DateTime.UtcNow > deadline)
            {
                return job;
            }

            await Task.Delay(100);
        }
    }

    public static async Task<JsonElement> ResolveAsync(this HttpClient tenant, string screeningId, string decision, HttpStatusCode status = HttpStatusCode.OK) =>
        await (await tenant.PostJsonAsync($"/v1/compliance/screenings/{screeningId}/resolve", new { decision, note = "checked the passport" })).ExpectAsync(status);
}
