using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Orleans;
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

public sealed record ResolveScreeningRequest(string Decision, string? Note = null);

/// <summary>A watchlist just imported, and the rescreening of the tenant's wallet owners it started.</summary>
public sealed record WatchlistImported(string Id, string Name, int Entries, string Sha256, DateTimeOffset ImportedAt, ComplianceJobView Rescreening);

/// <summary>
/// Compliance screening (finance and operators): a tenant's watchlists, imported from CSV; screenings
/// of a name against them (clear, a potential match, or a match, with the entries found); the review
/// queue of potential matches and matches, and their resolution; the rescreening jobs.
/// </summary>
public static class ComplianceEndpoints
{
    public const int WatchlistNameLengthMax = 100;
    public const int NoteLengthMax = 2_000;

    public static IEndpointRouteBuilder MapComplianceEndpoints(this IEndpointRouteBuilder app)
    {
        var compliance = app.MapGroup("/v1/compliance").WithTags("Compliance").RequireAuthorization(Permissions.Finance)
            .WithMetadata(new OpenApiContract.WithoutIdempotencyKey());
        compliance.MapPost("/watchlists", ImportWatchlist).Accepts<WatchlistUploadForm>("multipart/form-data")
            .Produces<WatchlistImported>(StatusCodes.Status201Created).Refuses(LedgerErrors.FileUnreadable, LedgerErrors.FileTooLarge)
            .WithName("ImportWatchlist")
            .WithSummary("Import a watchlist from CSV; a list imported again under its name is replaced. Starts a rescreening of the wallet owners");
        compliance.MapGet("/watchlists", ListWatchlists).Produces<ListResponse<WatchlistView>>()
            .WithName("ListWatchlists").WithSummary("List the tenant's watchlists, by name");
        compliance.MapPost("/screenings", Screen).Accepts<ScreenNameRequest>("application/json").Produces<ScreeningView>(StatusCodes.Status201Created)
            .WithName("ScreenName").WithSummary("Screen a name against the tenant's watchlists: clear, potential_match or match, with what was found");
        compliance.MapGet("/screenings/{id}", GetScreening).Produces<ScreeningView>().Refuses(LedgerErrors.ScreeningNotFound)
            .WithName("GetScreening").WithSummary("Get a screening");
        compliance.MapPost("/screenings/{id}/resolve", Resolve).Accepts<ResolveScreeningRequest>("application/json").Produces<ScreeningView>()
            .Refuses(LedgerErrors.ScreeningNotFound, LedgerErrors.ScreeningResolved).WithName("ResolveScreening")
            .WithSummary("Resolve a potential match or a match: cleared lifts the review it put a wallet under; confirmed keeps it. Audited");
        compliance.MapGet("/reviews", ListReviews).Paged().Produces<ListResponse<ScreeningView>>()
            .WithName("ListReviews").WithSummary("The review queue: potential matches and matches of wallet owners and counterparties not resolved yet, oldest first");
        compliance.MapGet("/jobs", ListJobs).Paged().Produces<ListResponse<ComplianceJobView>>()
            .WithName("ListComplianceJobs").WithSummary("List the rescreening jobs, newest first");
        compliance.MapGet("/jobs/{id}", GetJob).Produces<ComplianceJobView>().Refuses(LedgerErrors.JobNotFound)
            .WithName("GetComplianceJob").WithSummary("Get a rescreening job");
        return app;
    }

    private static async Task<IResult> ImportWatchlist(
        HttpRequest http, ClaimsPrincipal user, ComplianceStore store, IClusterClient client, IOptions<ComplianceOptions> options, TimeProvider clock)
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
            var tenantId = user.TenantId();
            var imported = await store.ImportAsync(tenantId, name, content, AuthEndpoints.Actor(user), LedgerTime.Truncate(clock.GetUtcNow()),
                http.HttpContext.RequestAborted);
            var rescreening = await client.GetGrain<IRescreeningGrain>(tenantId).Start(ComplianceJobs.OnWatchlist);
            return JsonBodyResult.From(StatusCodes.Status201Created, new WatchlistImported(
                imported.Id, imported.Name, imported.Entries, imported.Sha256, imported.ImportedAt, rescreening));
        }
        catch (WatchlistFileException unreadable)
        {
            return Problems.Create(LedgerErrors.FileUnreadable, unreadable.Message);
        }
    }

    private static async Task<IResult> ListWatchlists(ClaimsPrincipal user, ComplianceStore store, HttpRequest http) =>
        TypedResults.Ok(new ListResponse<WatchlistView>(await store.ListAsync(user.TenantId(), http.HttpContext.RequestAborted), null));

    private static async Task<IResult> Screen(HttpRequest http, ClaimsPrincipal user, ComplianceScreening screening)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var person = ReadPerson(body, withDateOfBirth: true);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var screened = await screening.ScreenNameAsync(user.TenantId(), person!.Name, person.Country, person.DateOfBirth, AuthEndpoints.Actor(user),
            http.HttpContext.RequestAborted);
        return JsonBodyResult.From(StatusCodes.Status201Created, screened);
    }

    /// <summary>A person as a request names them: a name to screen, and a country and (<paramref name="withDateOfBirth"/>) a date of birth when given.</summary>
    internal static ScreenedPerson? ReadPerson(JsonRequest body, bool withDateOfBirth)
    {
        var name = body.String("name", required: true, ComplianceStore.NameLengthMax)?.Trim();
        var country = body.String("country", required: false, 2)?.Trim().ToUpperInvariant();
        DateOnly? dateOfBirth = null;
        if (withDateOfBirth && body.String("date_of_birth", required: false, 10) is { } born)
        {
            if (NameScreening.TryParseDate(born, out var parsed))
            {
                dateOfBirth = parsed;
            }
            else
            {
                body.Fail("date_of_birth must be a date such as 1970-01-31");
            }
        }

        if (country is not null && !NameScreening.IsCountry(country))
        {
            body.Fail("country must be a two-letter ISO 3166 code");
        }

        if (name is { Length: 0 } || (name is not null && NameScreening.Normalize(name).Length == 0))
        {
            body.Fail("name must have a letter or a digit");
        }

        return name is null ? null : new ScreenedPerson(name, country, dateOfBirth);
    }

    private static async Task<IResult> GetScreening(string id, ClaimsPrincipal user, ComplianceStore store, HttpRequest http) =>
        await store.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } screening
            ? TypedResults.Ok(screening)
            : Problems.Create(LedgerErrors.ScreeningNotFound, $"screening {id} not found");

    /// <summary>Resolves screening <paramref name="id"/> as the body decides: the API's route, and the dashboard's review queue.</summary>
    public static async Task<IResult> Resolve(string id, HttpRequest http, ClaimsPrincipal user, ComplianceStore store, IClusterClient client, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var decision = body.String("decision", required: true, 20);
        var note = body.String("note", required: false, NoteLengthMax);
        if (decision is not null and not (ScreeningDecisions.Cleared or ScreeningDecisions.Confirmed))
        {
            body.Fail("decision must be cleared (not the listed person) or confirmed");
        }

        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var tenantId = user.TenantId();
        var ct = http.HttpContext.RequestAborted;
        var (outcome, lifted) = await store.ResolveAsync(tenantId, id, decision!, note, AuthEndpoints.Actor(user), LedgerTime.Truncate(clock.GetUtcNow()), ct);
        switch (outcome)
        {
            case ResolveOutcome.NotFound:
                return Problems.Create(LedgerErrors.ScreeningNotFound, $"screening {id} not found");
            case ResolveOutcome.Clear:
                return Problems.Create(LedgerErrors.ScreeningResolved, $"screening {id} is clear: there is nothing to resolve");
            case ResolveOutcome.AlreadyResolved:
                return Problems.Create(LedgerErrors.ScreeningResolved, $"screening {id} is resolved already");
        }

        if (lifted is not null)
        {
            // The row no longer has the wallet under review; its grain reads it now, so its next withdrawal goes.
            await client.Wallet(lifted).RefreshCompliance();
        }

        return TypedResults.Ok(await store.FindAsync(tenantId, id, ct));
    }

    private static Task<IResult> ListReviews(HttpRequest http, ClaimsPrincipal user, ComplianceStore store) =>
        Paging.ListAsync(http, (limit, cursor, ct) => store.OpenAsync(user.TenantId(), limit, cursor, ct));

    private static Task<IResult> ListJobs(HttpRequest http, ClaimsPrincipal user, ComplianceJobStore jobs) =>
        Paging.ListAsync(http, (limit, cursor, ct) => jobs.ListAsync(user.TenantId(), limit, cursor, ct));

    private static async Task<IResult> GetJob(string id, ClaimsPrincipal user, ComplianceJobStore jobs, HttpRequest http) =>
        await jobs.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } job
            ? TypedResults.Ok(job)
            : Problems.Create(LedgerErrors.JobNotFound, $"job {id} not found");
}

/// <summary>A person as a request named them, to screen.</summary>
internal sealed record ScreenedPerson(string Name, string? Country, DateOnly? DateOfBirth);
