using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Compliance;

namespace Wallet.Api.Compliance;

/// <summary>A watchlist's upload: the CSV file and the list's name.</summary>
public sealed class WatchlistUploadForm
{
    /// <summary>The list as CSV: name,aliases,date_of_birth,country (aliases separated by ';').</summary>
    public required IFormFile File { get; init; }

    /// <summary>The list's name; importing a list under a name it has replaces it.</summary>
    public required string Name { get; init; }
}

public sealed record ScreenNameRequest(string Name, string? Country = null, DateOnly? DateOfBirth = null);

/// <summary>The <c>Compliance</c> settings: how alike a name must be to be a potential match or a match, and how large a watchlist file may be.</summary>
public sealed class ComplianceOptions
{
    public int PotentialMatchScore { get; set; } = 85;

    public int MatchScore { get; set; } = 95;

    public long WatchlistMaxBytes { get; set; } = 10 * 1024 * 1024;
}

/// <summary>
/// Compliance screening (finance and operators): a tenant's watchlists, imported from CSV, and
/// screenings of a name against them: clear, a potential match, or a match, with the entries found.
/// </summary>
public static class ComplianceEndpoints
{
    public const int WatchlistNameLengthMax = 100;

    public static IEndpointRouteBuilder MapComplianceEndpoints(this IEndpointRouteBuilder app)
    {
        var compliance = app.MapGroup("/v1/compliance").WithTags("Compliance").RequireAuthorization(Permissions.Finance)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        compliance.MapPost("/watchlists", ImportWatchlist).Accepts<WatchlistUploadForm>("multipart/form-data")
            .Produces<WatchlistView>(StatusCodes.Status201Created).Refuses(LedgerErrors.FileUnreadable, LedgerErrors.FileTooLarge)
            .WithName("ImportWatchlist").WithSummary("Import a watchlist from CSV; a list imported again under its name is replaced");
        compliance.MapGet("/watchlists", ListWatchlists).Produces<ListResponse<WatchlistView>>()
            .WithName("ListWatchlists").WithSummary("List the tenant's watchlists, by name");
        compliance.MapPost("/screenings", Screen).Accepts<ScreenNameRequest>("application/json").Produces<ScreeningView>(StatusCodes.Status201Created)
            .WithName("ScreenName").WithSummary("Screen a name against the tenant's watchlists: clear, potential_match or match, with what was found");
        compliance.MapGet("/screenings/{id}", GetScreening).Produces<ScreeningView>().Refuses(LedgerErrors.ScreeningNotFound)
            .WithName("GetScreening").WithSummary("Get a screening");
        return app;
    }

    private static async Task<IResult> ImportWatchlist(
        HttpRequest http, ClaimsPrincipal user, ComplianceStore store, IOptions<ComplianceOptions> options, TimeProvider clock)
    {
        if (!http.HasFormContentType)
        {
            return Problems.Create(Problems.UnsupportedMediaType, "send the list as multipart/form-data, in a field named file, with its name in a field named name");
        }

        var form = await http.ReadFormAsync(http.HttpContext.RequestAborted);
        var name = form["name"].ToString().Trim();
        if (form.Files.GetFile("file") is not { } file || name.Length is 0 or > WatchlistNameLengthMax)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"a file field (the CSV) and a name field (1 to {WatchlistNameLengthMax} characters) are required");
        }

        if (file.Length > options.Value.WatchlistMaxBytes)
        {
            return Problems.Create(LedgerErrors.FileTooLarge, $"a watchlist file may be at most {options.Value.WatchlistMaxBytes} bytes");
        }

        try
        {
            await using var content = file.OpenReadStream();
            var imported = await store.ImportAsync(user.TenantId(), name, content, AuthEndpoints.Actor(user), LedgerTime.Truncate(clock.GetUtcNow()),
                http.HttpContext.RequestAborted);
            return JsonBodyResult.From(StatusCodes.Status201Created, imported);
        }
        catch (WatchlistFileException unreadable)
        {
            return Problems.Create(LedgerErrors.FileUnreadable, unreadable.Message);
        }
    }

    private static async Task<IResult> ListWatchlists(ClaimsPrincipal user, ComplianceStore store, HttpRequest http) =>
        TypedResults.Ok(new ListResponse<WatchlistView>(await store.ListAsync(user.TenantId(), http.HttpContext.RequestAborted), null));

    private static async Task<IResult> Screen(HttpRequest http, ClaimsPrincipal user, ComplianceStore store, IOptions<ComplianceOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var name = body.String("name", required: true, ComplianceStore.NameLengthMax)?.Trim();
        var country = body.String("country", required: false, 2)?.Trim().ToUpperInvariant();
        var born = body.String("date_of_birth", required: false, 10);
        DateOnly? dateOfBirth = null;
        if (born is not null)
        {
            if (DateOnly.TryParseExact(born, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                dateOfBirth = parsed;
            }
            else
            {
                body.Fail("date_of_birth must be a date such as 1970-01-31");
            }
        }

        if (country is not null && (country.Length != 2 || !country.All(char.IsAsciiLetterUpper)))
        {
            body.Fail("country must be a two-letter ISO 3166 code");
        }

        if (name is { Length: 0 } || (name is not null && NameScreening.Normalize(name).Length == 0))
        {
            body.Fail("name must have a letter or a digit");
        }

        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        var (status, hits) = NameScreening.Screen(name!, country, dateOfBirth, await store.EntriesAsync(tenantId, ct),
            options.Value.PotentialMatchScore, options.Value.MatchScore);
        var screening = new ScreeningView("scr_" + Guid.CreateVersion7().ToString("N"), name!, country, dateOfBirth, status, hits,
            LedgerTime.Truncate(clock.GetUtcNow()));
        await store.SaveAsync(tenantId, screening, AuthEndpoints.Actor(user), ct);
        return JsonBodyResult.From(StatusCodes.Status201Created, screening);
    }

    private static async Task<IResult> GetScreening(string id, ClaimsPrincipal user, ComplianceStore store, HttpRequest http) =>
        await store.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } screening
            ? TypedResults.Ok(screening)
            : Problems.Create(LedgerErrors.ScreeningNotFound, $"screening {id} not found");
}
