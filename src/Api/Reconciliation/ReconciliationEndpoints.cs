using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Reconciliation;

/// <summary>The form a file of external records is uploaded with (multipart/form-data).</summary>
public sealed class ReconFileUploadForm
{
    /// <summary>The records as CSV: a header row, then a record a row, at most Reconciliation:MaxFileBytes.</summary>
    public required IFormFile File { get; init; }
}

/// <summary>
/// Reconciliation sources and the external records that come in for them: a CSV file streamed in
/// (never held whole in memory), or records pushed as JSON. Finance and operators only: reconciling is the back
/// office's work.
/// </summary>
public static class ReconciliationEndpoints
{
    public static IEndpointRouteBuilder MapReconciliationEndpoints(this IEndpointRouteBuilder app)
    {
        var sources = app.MapGroup("/v1/reconciliation/sources").WithTags("Reconciliation")
            .RequireAuthorization(Permissions.Finance);
        sources.MapPost("", CreateSource).Accepts<CreateReconSourceRequest>("application/json")
            .Produces<ReconSourceView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.SourceExists, LedgerErrors.WalletNotFound, LedgerErrors.UnknownCurrency)
            .WithName("CreateReconciliationSource").WithSummary("Declare a source of external records and the ledger account it reconciles");
        sources.MapGet("", ListSources).Paged().Produces<ListResponse<ReconSourceView>>()
            .WithName("ListReconciliationSources").WithSummary("List the tenant's reconciliation sources, newest first");
        sources.MapGet("{id}", GetSource).Produces<ReconSourceView>().Refuses(LedgerErrors.SourceNotFound)
            .WithName("GetReconciliationSource").WithSummary("Get a reconciliation source");
        sources.MapPost("{id}/files", UploadFile).Accepts<ReconFileUploadForm>("multipart/form-data")
            .Produces<ReconImportView>(StatusCodes.Status201Created).Produces<ReconImportView>()
            .Refuses(LedgerErrors.SourceNotFound, LedgerErrors.FileUnreadable, LedgerErrors.FileTooLarge, LedgerErrors.RecordsRejected)
            .WithName("UploadReconciliationFile")
            .WithSummary("Import a CSV file of external records (the same file again answers 200 with its first import)");
        sources.MapGet("{id}/files", ListFiles).Paged().Produces<ListResponse<ReconImportView>>().Refuses(LedgerErrors.SourceNotFound)
            .WithName("ListReconciliationFiles").WithSummary("List the files imported for a source, newest first");
        sources.MapPost("{id}/records", PushRecords).Accepts<PushReconRecordsRequest>("application/json")
            .Produces<ReconImportView>(StatusCodes.Status201Created)
            .Refuses(LedgerErrors.SourceNotFound, LedgerErrors.RecordsRejected)
            .WithName("PushReconciliationRecords").WithSummary("Push external records as JSON, their fields named as the source's mapping says");
        return app;
    }

    private static async Task<IResult> CreateSource(
        HttpRequest http, ClaimsPrincipal user, ReconStore store, CurrencyCatalog currencies, IdempotencyStore keys, TimeProvider clock,
        IClusterClient client, ILoggerFactory loggers, CustomAccounts accounts)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http);
        if (body is null)
        {
            return problem!;
        }

        var source = ReconSourceRequest.Read(body, ReconIds.NewSource(), LedgerTime.Truncate(clock.GetUtcNow()));
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        if (SystemAccounts.TryParseReference(source!.LedgerAccount, out var account) && !await accounts.NamesAsync(tenantId, account, http.HttpContext.RequestAborted))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "ledger_account " + SystemAccounts.NotAnAccount(source.LedgerAccount));
        }
        var cancellationToken = http.HttpContext.RequestAborted;
        if (source!.Mapping.CurrencyDefault is { } code && await currencies.FindAsync(tenantId, code, cancellationToken) is null)
        {
            return Problems.For(CurrencyCatalog.Unknown(code));
        }

        if (!source.LedgerAccount.StartsWith('@') && !await store.IsWalletAsync(tenantId, source.LedgerAccount, cancellationToken))
        {
            return Problems.Create(LedgerErrors.WalletNotFound, $"wallet {source.LedgerAccount} not found");
        }

        return await Idempotency.RunAsync(keys, tenantId, idempotency, async () =>
        {
            var (outcome, created) = await store.CreateSourceAsync(tenantId, source, idempotency, StoredAnswers.Created, cancellationToken);
            if (created?.Schedule is not null)
            {
                await ArmScheduleAsync(client, created.Id, loggers.CreateLogger(typeof(ReconciliationEndpoints)));
            }

            return outcome switch
            {
                ReconSourceCreation.NameTaken => Problems.Create(LedgerErrors.SourceExists, $"a source named '{source.Name}' exists already"),
                ReconSourceCreation.IdempotencyKeyExists => Idempotency.KeyExistsResult.Instance,
                _ => JsonBodyResult.From(StatusCodes.Status201Created, created!, location: $"/v1/reconciliation/sources/{created!.Id}"),
            };
        }, cancellationToken);
    }

    /// <summary>The source is kept already: should its schedule's grain be unreachable, the silos' hourly sweep arms it.</summary>
    private static async Task ArmScheduleAsync(IClusterClient client, string sourceId, ILogger logger)
    {
        try
        {
            await client.GetGrain<IReconScheduleGrain>(sourceId).Arm();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Reconciliation source {SourceId} is kept but its schedule could not be armed; the silos' sweep arms it within the hour", sourceId);
        }
    }

    private static async Task<IResult> ListSources(HttpRequest http, ClaimsPrincipal user, ReconStore store)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (paging.Cursor is not null && !paging.Cursor.StartsWith(ReconIds.SourcePrefix, StringComparison.Ordinal))
        {
            return Paging.InvalidCursor();
        }

        var page = await store.ListSourcesAsync(user.TenantId(), paging.Limit, paging.Cursor, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<ReconSourceView>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> GetSource(string id, ClaimsPrincipal user, ReconStore store, HttpRequest http) =>
        await store.FindSourceAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } source ? TypedResults.Ok(source) : SourceNotFound(id);

    private static async Task<IResult> ListFiles(string id, HttpRequest http, ClaimsPrincipal user, ReconStore store)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (paging.Cursor is not null && !paging.Cursor.StartsWith(ReconIds.FilePrefix, StringComparison.Ordinal))
        {
            return Paging.InvalidCursor();
        }

        var tenantId = user.TenantId();
        if (await store.FindSourceAsync(tenantId, id, http.HttpContext.RequestAborted) is null)
        {
            return SourceNotFound(id);
        }

        var page = await store.ListFilesAsync(tenantId, id, paging.Limit, paging.Cursor, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<ReconImportView>(page.Data, page.NextCursor));
    }

    /// <summary>
    /// Streams the multipart body's file part into the import: the file is parsed and copied into
    /// PostgreSQL as it arrives. Its Idempotency-Key is told apart by the file's SHA-256.
    /// </summary>
    private static async Task<IResult> UploadFile(
        string id, HttpRequest http, ClaimsPrincipal user, ReconStore store, ReconImporter importer, IdempotencyStore keys,
        IOptions<ReconOptions> options, TimeProvider clock)
    {
        var cancellationToken = http.HttpContext.RequestAborted;
        var maxBytes = options.Value.MaxFileBytes;
        if (http.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null; // the file part is counted as it streams; the rest of a form is small
        }

        if (!MediaTypeHeaderValue.TryParse(http.ContentType, out var mediaType) || mediaType.MediaType != "multipart/form-data"
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Length == 0)
        {
            return Problems.Create(Problems.UnsupportedMediaType, "send the file as multipart/form-data (with its boundary), in a field named file");
        }

        // A malformed key is refused before the file is read.
        var (_, keyProblem) = Idempotency.Read(http, "");
        if (keyProblem is not null)
        {
            return keyProblem;
        }

        var tenantId = user.TenantId();
        if (await store.FindSourceAsync(tenantId, id, cancellationToken) is not { } source)
        {
            return SourceNotFound(id);
        }

        if (source.Format != ReconSourceView.Csv)
        {
            return Problems.Create(Problems.UnsupportedMediaType,
                $"source {source.Name} takes its records as JSON (format: {source.Format}): push them to /v1/reconciliation/sources/{id}/records");
        }

        var multipart = new MultipartReader(HeaderUtilities.RemoveQuotes(mediaType.Boundary).ToString(), http.Body) { BodyLengthLimit = maxBytes + MultipartSlackBytes };
        MultipartSection? section;
        try
        {
            while ((section = await multipart.ReadNextSectionAsync(cancellationToken)) is not null
                   && !(ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                        && disposition.IsFileDisposition() && disposition.Name.Equals("file", StringComparison.OrdinalIgnoreCase)))
            {
            }
        }
        catch (IOException malformed) when (!cancellationToken.IsCancellationRequested)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"the multipart body is malformed: {malformed.Message}");
        }

        if (section is null)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "file is required: the records, in a multipart field named file");
        }

        ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var file);
        var name = HeaderUtilities.RemoveQuotes(file!.FileNameStar.HasValue ? file.FileNameStar : file.FileName).ToString() is { Length: > 0 } given
            ? Path.GetFileName(given)
            : null;
        var feed = new CsvRecordFeed(section.Body, name, source.Mapping.Delimiter, maxBytes);
        IdempotencyRequest? idempotency = null;
        return await Idempotency.RunAsync(keys, tenantId, () => idempotency, async () =>
        {
            var (outcome, import, failure) = await importer.ImportAsync(tenantId, source, ReconIds.NewFile(), feed, LedgerTime.Truncate(clock.GetUtcNow()),
                read => idempotency = Idempotency.Read(http, FileRequestHash(http, read.Sha256!)).Request,
                (kind, view) => kind == ReconImportOutcome.SameFile ? StoredAnswers.Done(view) : StoredAnswers.Created(view), cancellationToken);
            return outcome switch
            {
                ReconImportOutcome.IdempotencyKeyExists => Idempotency.KeyExistsResult.Instance,
                ReconImportOutcome.Refused => Problems.For(failure!),
                ReconImportOutcome.SameFile => JsonBodyResult.From(StatusCodes.Status200OK, import!),
                _ => JsonBodyResult.From(StatusCodes.Status201Created, import!, location: $"/v1/reconciliation/sources/{source.Id}/files"),
            };
        }, cancellationToken);
    }

    // The file part is limited by its own count (a precise file_too_large); the multipart reader's limit is only a backstop.
    private const int MultipartSlackBytes = 64 * 1024;

    private static string FileRequestHash(HttpRequest http, string sha256) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{http.Method} {http.Path}\n{sha256}")));

    private static async Task<IResult> PushRecords(
        string id, HttpRequest http, ClaimsPrincipal user, ReconStore store, ReconImporter importer, IdempotencyStore keys,
        IOptions<ReconOptions> options, TimeProvider clock)
    {
        var (body, problem) = await JsonRequest.ReadAsync(http, bodyLengthMax: PushBodyLengthMax(options.Value));
        if (body is null)
        {
            return problem!;
        }

        var records = body.Elements("records", options.Value.RecordsPerPushMax);
        var (idempotency, keyProblem) = Idempotency.Read(http, body);
        if (((IResult?)body.Problem ?? keyProblem) is { } invalid)
        {
            return invalid;
        }

        var tenantId = user.TenantId();
        var cancellationToken = http.HttpContext.RequestAborted;
        if (await store.FindSourceAsync(tenantId, id, cancellationToken) is not { } source)
        {
            return SourceNotFound(id);
        }

        return await Idempotency.RunAsync(keys, tenantId, idempotency, async () =>
        {
            var (outcome, import, failure) = await importer.ImportAsync(tenantId, source, ReconIds.NewFile(), new JsonRecordFeed(records!),
                LedgerTime.Truncate(clock.GetUtcNow()), _ => idempotency, (_, view) => StoredAnswers.Created(view), cancellationToken);
            return outcome switch
            {
                ReconImportOutcome.IdempotencyKeyExists => Idempotency.KeyExistsResult.Instance,
                ReconImportOutcome.Refused => Problems.For(failure!),
                _ => JsonBodyResult.From(StatusCodes.Status201Created, import!),
            };
        }, cancellationToken);
    }

    // A pushed record is a few hundred bytes; the body may hold the most records a push takes.
    private static int PushBodyLengthMax(ReconOptions options) => Math.Max(JsonRequest.BodyLengthMax, options.RecordsPerPushMax * 1024);

    private static IResult SourceNotFound(string id) => Problems.Create(LedgerErrors.SourceNotFound, $"reconciliation source {id} not found");
}

/// <summary>A source as POST /v1/reconciliation/sources takes it (the OpenAPI document's shape; the handler reads the body itself).</summary>
public sealed record CreateReconSourceRequest(
    string Name, string LedgerAccount, ReconMappingRequest Mapping, string? Format = null, ReconTolerancesRequest? Tolerances = null,
    string? BadRows = null, ReconScheduleRequest? Schedule = null);

/// <summary>Which column (or JSON field) holds each value, and how amounts and times are written.</summary>
public sealed record ReconMappingRequest(
    string ExternalId, string Amount, string Timestamp, string? Currency = null, string? Reference = null, string? Description = null,
    string? AmountSign = null, string? DecimalSeparator = null, string? ThousandsSeparator = null, string? TimestampFormat = null,
    string? TimeZone = null, string? CurrencyDefault = null, string? Delimiter = null);

/// <summary>How near a record and an entry must be to match.</summary>
public sealed record ReconTolerancesRequest(string? Amount = null, int? TimeWindowSeconds = null, double? FuzzyThreshold = null);

/// <summary>When the source runs by itself: a five-field cron expression in an IANA time zone.</summary>
public sealed record ReconScheduleRequest(string Cron, string? TimeZone = null);

/// <summary>Records pushed for a source: JSON objects whose fields (strings or numbers) the source's mapping names.</summary>
public sealed record PushReconRecordsRequest(IReadOnlyList<Dictionary<string, object?>> Records);
