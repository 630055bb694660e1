using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Storage;

namespace Wallet.Api.Reconciliation;

/// <summary>
/// Reconciliation runs: asked for (queued, then run by the run's grain in the background), watched,
/// and read once completed (their items and summary); an unmatched item resolved by an operator.
/// </summary>
public static class ReconRunEndpoints
{
    public const int NoteLengthMax = 1000;

    public static IEndpointRouteBuilder MapReconRunEndpoints(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/v1/reconciliation/runs").WithTags("Reconciliation")
            .RequireAuthorization(Permissions.Finance);
        runs.MapPost("", CreateRun).Accepts<CreateReconRunRequest>("application/json")
            .Produces<ReconRunView>(StatusCodes.Status202Accepted).Refuses(LedgerErrors.SourceNotFound)
            .WithName("CreateReconciliationRun").WithSummary("Reconcile a source's records with its ledger account over a day or a period");
        runs.MapGet("", ListRuns).Paged().Produces<ListResponse<ReconRunView>>()
            .WithName("ListReconciliationRuns").WithSummary("List the tenant's reconciliation runs (of one source, when given), newest first");
        runs.MapGet("{id}", GetRun).Produces<ReconRunView>().Refuses(LedgerErrors.RunNotFound)
            .WithName("GetReconciliationRun").WithSummary("Get a reconciliation run: its status and progress");
        runs.MapGet("{id}/items", ListItems).Paged().Produces<ListResponse<ReconItemView>>()
            .Refuses(LedgerErrors.RunNotFound, LedgerErrors.RunNotCompleted)
            .WithName("ListReconciliationItems").WithSummary("List a completed run's matched pairs and unmatched records and entries, in order");
        runs.MapGet("{id}/summary", GetSummary).Produces<ReconSummary>().Refuses(LedgerErrors.RunNotFound, LedgerErrors.RunNotCompleted)
            .WithName("GetReconciliationSummary").WithSummary("Get a completed run's counts and amounts, and what operators resolved since");
        app.MapGroup("/v1/reconciliation/items").WithTags("Reconciliation").RequireAuthorization(Permissions.Finance)
            .MapPost("{id}/resolve", Resolve)
            .Accepts<ResolveReconItemRequest>("application/json").Produces<ReconItemView>()
            .Refuses(LedgerErrors.ItemNotFound, LedgerErrors.ItemResolved, LedgerErrors.ItemNotResolvable)
            .WithName("ResolveReconciliationItem").WithSummary("Match an unmatched item by hand with one of the other side, or write it off, with a note");
        return app;
    }

    private static async Task<IResult> CreateRun(
        HttpRequest http, ClaimsPrincipal user, ReconStore sources, ReconRunStore store, IdempotencyStore keys, IClusterClient client, TimeProvider clock,
        ILoggerFactory loggers)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var sourceId = body.String("source_id", required: true);
        var date = body.String("date", required: false, 10);
        var fromText = body.String("from", required: false, 40);
        var toText = body.String("to", required: false, 40);
        var period = fromText is not null || toText is not null;
        if (date is not null ? period : fromText is null || toText is null)
        {
            body.Fail("give either date (YYYY-MM-DD) or both from and to");
        }

        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        var cancellationToken = http.HttpContext.RequestAborted;
        if (await sources.FindSourceAsync(tenantId, sourceId!, cancellationToken) is not { } source)
        {
            return Problems.Create(LedgerErrors.SourceNotFound, $"reconciliation source {sourceId} not found");
        }

        var zone = ReconSchedules.TimeZoneOf(source);
        var (from, to, why) = date is not null ? ReadDay(date, zone) : ReadPeriod(fromText!, toText!, zone);
        if (why is not null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, why);
        }

        return await Idempotency.RunAsync(keys, tenantId, idempotency, async () =>
        {
            var run = await store.CreateRunAsync(tenantId, source.Id, from, to, LedgerTime.Truncate(clock.GetUtcNow()), idempotency, StoredAnswers.Accepted, cancellationToken);
            if (run is null)
            {
                return Idempotency.KeyExistsResult.Instance;
            }

            await StartAsync(client, run.Id, loggers.CreateLogger(typeof(ReconRunEndpoints)));
            return JsonBodyResult.From(StatusCodes.Status202Accepted, run, location: $"/v1/reconciliation/runs/{run.Id}");
        }, cancellationToken);
    }

    /// <summary>The run is kept already: when its grain cannot be reached the answer is still 202, and the silos' sweep starts it.</summary>
    private static async Task StartAsync(IClusterClient client, string runId, ILogger logger)
    {
        try
        {
            await client.GetGrain<IReconRunGrain>(runId).Start();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Reconciliation run {RunId} is queued but could not be started; the sweep of unattended runs starts it", runId);
        }
    }

    private static (DateTimeOffset From, DateTimeOffset To, string? Why) ReadDay(string date, string zone) =>
        DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? Period(ReconSchedules.Day(day, zone))
            : (default, default, $"date must be a day such as 2025-07-13, not '{date}'");

    /// <summary>from and to are each a day (its midnight in the source's time zone) or an RFC 3339 time with its offset; to is excluded.</summary>
    private static (DateTimeOffset From, DateTimeOffset To, string? Why) ReadPeriod(string fromText, string toText, string zone)
    {
        if (!TryReadTime(fromText, zone, out var from) || !TryReadTime(toText, zone, out var to))
        {
            return (default, default, "from and to must each be a day (2025-07-13) or a time with its offset (2025-07-13T06:00:00Z)");
        }

        if (to <= from)
        {
            return (default, default, "to must be after from");
        }

        return Period((from, to));
    }

    private static (DateTimeOffset From, DateTimeOffset To, string? Why) Period((DateTimeOffset From, DateTimeOffset To) period) =>
        period.To - period.From > ReconOptions.PeriodMax
            ? (default, default, $"a run covers at most {ReconOptions.PeriodMax.TotalDays:0} days")
            : (period.From, period.To, null);

    private static bool TryReadTime(string text, string zone, out DateTimeOffset time)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            time = ReconSchedules.Day(day, zone).From;
            return true;
        }

        return DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"], CultureInfo.InvariantCulture,
            DateTimeStyles.None, out time) && (text.EndsWith('Z') || text.Length > 6 && text[^6] is '+' or '-');
    }

    private static async Task<IResult> ListRuns(HttpRequest http, ClaimsPrincipal user, ReconRunStore store, [FromQuery(Name = "source_id")] string? sourceId = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (paging.Cursor is not null && !paging.Cursor.StartsWith(ReconIds.RunPrefix, StringComparison.Ordinal))
        {
            return Paging.InvalidCursor();
        }

        var page = await store.ListRunsAsync(user.TenantId(), sourceId, paging.Limit, paging.Cursor, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<ReconRunView>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> GetRun(string id, ClaimsPrincipal user, ReconRunStore store, HttpRequest http) =>
        await store.FindRunAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } run ? TypedResults.Ok(run) : RunNotFound(id);

    private static async Task<IResult> ListItems(
        string id, HttpRequest http, ClaimsPrincipal user, ReconRunStore store, string? matched = null, string? side = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var after = 0;
        if (paging.Cursor is not null && (!int.TryParse(paging.Cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 1))
        {
            return Paging.InvalidCursor();
        }

        bool? matchedOnly = matched switch
        {
            null => null,
            "true" => true,
            "false" => false,
            _ => null,
        };
        if (matched is not null && matchedOnly is null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "matched must be true or false");
        }

        if (side is not null && !ReconItemView.Sides.Contains(side))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"side must be one of {string.Join(", ", ReconItemView.Sides)}");
        }

        var tenantId = user.TenantId();
        var cancellationToken = http.HttpContext.RequestAborted;
        if (await store.FindRunAsync(tenantId, id, cancellationToken) is not { } run)
        {
            return RunNotFound(id);
        }

        if (run.Status != ReconRunStatuses.Completed)
        {
            return NotCompleted(run);
        }

        var page = await store.ListItemsAsync(tenantId, id, matchedOnly, side, paging.Limit, after, cancellationToken);
        return TypedResults.Ok(new ListResponse<ReconItemView>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> GetSummary(string id, ClaimsPrincipal user, ReconRunStore store, HttpRequest http)
    {
        var tenantId = user.TenantId();
        var (found, summary) = await store.SummaryAsync(tenantId, id, http.HttpContext.RequestAborted);
        if (!found)
        {
            return RunNotFound(id);
        }

        return summary is not null ? TypedResults.Ok(summary) : NotCompleted((await store.FindRunAsync(tenantId, id, http.HttpContext.RequestAborted))!);
    }

    private static Task<IResult> Resolve(string id, HttpRequest http, ClaimsPrincipal user, ReconRunStore store, TimeProvider clock) =>
        ResolveAsync(http, user, id, store, clock);

    /// <summary>
    /// Reads a resolve request's body (<c>action</c>, <c>counterpart_id</c>, <c>note</c>) and records the
    /// decision on the caller's tenant's item, in its audit trail as the caller's: the item with its
    /// resolution, or the problem. The API's route and the operator page's both take this path.
    /// </summary>
    public static async Task<IResult> ResolveAsync(HttpRequest http, ClaimsPrincipal user, string id, ReconRunStore store, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var action = body.String("action", required: true, 20);
        if (action is not null && !ReconResolution.Actions.Contains(action))
        {
            body.Fail($"action must be one of {string.Join(", ", ReconResolution.Actions)}");
        }

        var counterpart = body.String("counterpart_id", required: false);
        if (action == ReconResolution.Match && counterpart is null)
        {
            body.Fail("counterpart_id is required to match: the unmatched item of the other side this one is");
        }
        else if (action == ReconResolution.WriteOff && counterpart is not null)
        {
            body.Fail("counterpart_id is only for a match; a write-off stands alone");
        }

        var note = body.String("note", required: true, NoteLengthMax);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var (outcome, item, why) = await store.ResolveAsync(user.TenantId(), id, action!, counterpart, note!, AuthEndpoints.Actor(user),
            LedgerTime.Truncate(clock.GetUtcNow()), http.HttpContext.RequestAborted);
        return outcome switch
        {
            ReconResolveOutcome.Resolved => TypedResults.Ok(item),
            ReconResolveOutcome.ItemNotFound => Problems.Create(LedgerErrors.ItemNotFound, $"reconciliation item {id} not found in a completed run"),
            ReconResolveOutcome.CounterpartNotFound => Problems.Create(LedgerErrors.ItemNotFound, $"reconciliation item {counterpart} not found in the run of {id}"),
            ReconResolveOutcome.AlreadyResolved => Problems.Create(LedgerErrors.ItemResolved, why!),
            _ => Problems.Create(LedgerErrors.ItemNotResolvable, why!),
        };
    }

    private static IResult RunNotFound(string id) => Problems.Create(LedgerErrors.RunNotFound, $"reconciliation run {id} not found");

    private static IResult NotCompleted(ReconRunView run) =>
        Problems.Create(LedgerErrors.RunNotCompleted, $"reconciliation run {run.Id} is {run.Status}" + (run.Error is null ? "" : $": {run.Error}"));
}

/// <summary>A run as POST /v1/reconciliation/runs takes it: a day (in the source's time zone), or a period from and to (excluded).</summary>
public sealed record CreateReconRunRequest(string SourceId, string? Date = null, string? From = null, string? To = null);

/// <summary>An operator's decision on an unmatched item: <c>match</c> (with the other side's unmatched item) or <c>write_off</c>, with a note.</summary>
public sealed record ResolveReconItemRequest(string Action, string Note, string? CounterpartId = null);
