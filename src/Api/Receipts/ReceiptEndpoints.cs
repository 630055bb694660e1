using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Orleans;
using Wallet.Api.Auth;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Receipts;
using Wallet.Grains.Storage;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Receipts;

/// <summary>The form a receipt is uploaded with (multipart/form-data).</summary>
public sealed class ReceiptUploadForm
{
    /// <summary>The receipt: a JPEG, PNG or WebP picture or a PDF, at most Receipts:MaxBytes.</summary>
    public required IFormFile File { get; init; }

    /// <summary>The card authorization the receipt is for.</summary>
    public string? AuthorizationId { get; init; }
}

/// <summary>
/// Receipts for card transactions: uploaded as multipart/form-data, kept with their SHA-256 (the
/// same file for the same authorization is the same receipt), read in the background by their
/// receipt grain (OCR, then checked against the authorization), listed, retried, read back with
/// their file.
/// </summary>
public static class ReceiptEndpoints
{
    // What a multipart body carries besides the file: boundaries, headers, the authorization's id.
    private const int FormOverheadBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapReceiptEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/receipts").WithTags("Receipts").RequireAuthorization(Permissions.Receipts);
        group.MapPost("", Upload).Accepts<ReceiptUploadForm>("multipart/form-data")
            .WithFormOptions(multipartBodyLengthLimit: ReceiptOptions.MaxBytesLimit + FormOverheadBytes)
            .Produces<ReceiptView>(StatusCodes.Status202Accepted)
            .Refuses(LedgerErrors.FileUnreadable, LedgerErrors.FileTooLarge, LedgerErrors.FileTypeUnsupported, LedgerErrors.AuthorizationNotFound)
            .WithName("UploadReceipt").WithSummary("Upload a receipt for a card transaction; it is read in the background");
        group.MapGet("", List).Paged().Produces<ListResponse<ReceiptView>>()
            .WithName("ListReceipts").WithSummary("List the tenant's receipts, newest first, by status or authorization");
        group.MapGet("{id}", Get).Produces<ReceiptView>().Refuses(LedgerErrors.ReceiptNotFound)
            .WithName("GetReceipt").WithSummary("Get a receipt and its status");
        group.MapPost("{id}/retry", Retry).Produces<ReceiptView>(StatusCodes.Status202Accepted)
            .Refuses(LedgerErrors.ReceiptNotFound, LedgerErrors.ReceiptVerified)
            .WithName("RetryReceipt").WithSummary("Read a receipt again (failed, unreadable or mismatched; a processing one is nudged)");
        group.MapGet("{id}/file", GetFile).Refuses(LedgerErrors.ReceiptNotFound)
            .WithName("GetReceiptFile").WithSummary("Get a receipt's file as it was uploaded")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The bytes as uploaded, typed as they were recognized.
                operation.Responses ??= [];
                operation.Responses["200"] = new OpenApiResponse
                {
                    Description = "The file",
                    Content = ReceiptFiles.Types.ToDictionary(
                        type => type, _ => new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } }),
                };
                return Task.CompletedTask;
            });
        return app;
    }

    private static async Task<IResult> Upload(
        HttpRequest http, ClaimsPrincipal user, ReceiptStore receipts, CardStore cards, IdempotencyStore store, IClusterClient client,
        IOptions<ReceiptOptions> options, TimeProvider clock, ILogger<ReceiptUploadForm> logger)
    {
        var cancellationToken = http.HttpContext.RequestAborted;
        var maxBytes = options.Value.MaxBytes;
        if (http.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = (long)maxBytes + FormOverheadBytes;
        }

        if (!MediaTypeHeaderValue.TryParse(http.ContentType, out var mediaType) || mediaType.MediaType != "multipart/form-data" || mediaType.Boundary.Length == 0)
        {
            return Problems.Create(Problems.UnsupportedMediaType, "send the receipt as multipart/form-data (with its boundary), the file in a field named file");
        }

        IFormCollection form;
        try
        {
            form = await http.ReadFormAsync(cancellationToken);
        }
        catch (BadHttpRequestException refused)
        {
            return refused.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxBytes)
                : Problems.Create(LedgerErrors.ValidationFailed, $"the body could not be read: {refused.Message}");
        }
        catch (Exception malformed) when (malformed is InvalidDataException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"the multipart body is malformed (a part or the closing boundary is missing): {malformed.Message}");
        }

        var authorizationId = form.TryGetValue("authorization_id", out var given) ? given.ToString() : null;
        if (form.Files.GetFile("file") is not { } upload)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "file is required: the receipt, in a multipart field named file");
        }

        if (upload.Length == 0)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "file is empty");
        }

        if (upload.Length > maxBytes)
        {
            return TooLarge(maxBytes);
        }

        if (authorizationId is { Length: 0 })
        {
            return Problems.Create(LedgerErrors.ValidationFailed, "authorization_id, when given, may not be empty");
        }

        var content = new byte[upload.Length];
        await using (var stream = upload.OpenReadStream())
        {
            await stream.ReadExactlyAsync(content, cancellationToken);
        }

        var (file, failure) = await ReceiptFiles.InspectAsync(content, cancellationToken);
        if (failure is not null)
        {
            return Problems.For(failure);
        }

        var tenantId = user.TenantId();
        if (authorizationId is not null && await cards.GetAuthorizationAsync(tenantId, authorizationId, cancellationToken) is null)
        {
            return Problems.Create(LedgerErrors.AuthorizationNotFound, $"authorization {authorizationId} not found");
        }

        // A retry is the same file for the same authorization.
        var requestHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"POST /v1/receipts\n{authorizationId}\n{file!.Sha256}")));
        var (idempotency, keyProblem) = Idempotency.Read(http, requestHash);
        if (keyProblem is not null)
        {
            return keyProblem;
        }

        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var (outcome, receipt) = await receipts.UploadAsync(
                tenantId, ReceiptIds.New(), authorizationId, file, LedgerTime.Truncate(clock.GetUtcNow()), idempotency, StoredAnswers.Accepted, cancellationToken);
            if (outcome == ReceiptUpload.IdempotencyKeyExists)
            {
                return Idempotency.KeyExistsResult.Instance;
            }

            await StartReadingAsync(client, receipt!, logger);
            return JsonBodyResult.From(StatusCodes.Status202Accepted, receipt!, location: $"/v1/receipts/{receipt!.Id}");
        }, cancellationToken);
    }

    private static async Task<IResult> Retry(
        string id, HttpRequest http, ClaimsPrincipal user, ReceiptStore receipts, IdempotencyStore store, IClusterClient client, TimeProvider clock,
        ILogger<ReceiptUploadForm> logger)
    {
        var (idempotency, problem) = await Idempotency.ReadBodilessAsync(http);
        if (problem is not null)
        {
            return problem;
        }

        var tenantId = user.TenantId();
        return await Idempotency.RunAsync(store, tenantId, idempotency, async () =>
        {
            var (outcome, receipt) = await RetryAsync(receipts, client, clock, logger, tenantId, id, idempotency, http.HttpContext.RequestAborted);
            switch (outcome)
            {
                case ReceiptRetry.NotFound:
                    return NotFound(id);
                case ReceiptRetry.Verified:
                    return Problems.Create(LedgerErrors.ReceiptVerified, $"receipt {id} is verified; it is not read again");
                case ReceiptRetry.IdempotencyKeyExists:
                    return Idempotency.KeyExistsResult.Instance;
                default:
                    return JsonBodyResult.From(StatusCodes.Status202Accepted, receipt!, location: $"/v1/receipts/{receipt!.Id}");
            }
        }, http.HttpContext.RequestAborted);
    }

    /// <summary>
    /// Puts a receipt back to processing (<see cref="ReceiptStore.RetryAsync"/>) and has its grain
    /// read it: the API's retry route and the operators' receipts page.
    /// </summary>
    public static async Task<(ReceiptRetry Outcome, ReceiptView? Receipt)> RetryAsync(
        ReceiptStore receipts, IClusterClient client, TimeProvider clock, ILogger logger, string tenantId, string id, IdempotencyRequest? idempotency,
        CancellationToken cancellationToken)
    {
        var (outcome, receipt) = await receipts.RetryAsync(tenantId, id, LedgerTime.Truncate(clock.GetUtcNow()), idempotency, StoredAnswers.Accepted, cancellationToken);
        if (outcome == ReceiptRetry.Restarted)
        {
            await StartReadingAsync(client, receipt!, logger);
        }

        return (outcome, receipt);
    }

    /// <summary>
    /// Has the receipt's grain read it. The receipt is kept already: when the grain cannot be
    /// reached the answer is still 202, and the silos' sweep (or a retry) starts it later.
    /// </summary>
    private static async Task StartReadingAsync(IClusterClient client, ReceiptView receipt, ILogger logger)
    {
        if (receipt.Status != ReceiptStatuses.Processing)
        {
            return;
        }

        try
        {
            await client.Receipt(receipt.Id).Start();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Receipt {ReceiptId} is kept but its reading could not be started; the sweep of unattended receipts starts it", receipt.Id);
        }
    }

    private static async Task<IResult> List(
        HttpRequest http, ClaimsPrincipal user, ReceiptStore receipts, string? status = null, [FromQuery(Name = "authorization_id")] string? authorizationId = null)
    {
        var (paging, problem) = Paging.Read(http);
        if (paging is null)
        {
            return problem!;
        }

        if (status is not null && !ReceiptStatuses.All.Contains(status))
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"status must be one of {string.Join(", ", ReceiptStatuses.All)}");
        }

        if (paging.Cursor is not null && !paging.Cursor.StartsWith(ReceiptIds.Prefix, StringComparison.Ordinal))
        {
            return Paging.InvalidCursor();
        }

        var page = await receipts.ListAsync(new ReceiptQuery(user.TenantId(), status, authorizationId, paging.Limit, paging.Cursor), http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<ReceiptView>(page.Data, page.NextCursor));
    }

    private static async Task<IResult> Get(string id, ClaimsPrincipal user, ReceiptStore receipts, HttpRequest http) =>
        await receipts.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } receipt
            ? TypedResults.Ok(receipt)
            : NotFound(id);

    /// <summary>The bytes as a download, never sniffed into another type by a browser.</summary>
    private static async Task<IResult> GetFile(string id, ClaimsPrincipal user, ReceiptStore receipts, HttpRequest http)
    {
        if (await receipts.ReadFileAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is not { } file)
        {
            return NotFound(id);
        }

        http.HttpContext.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.File(file.Content, file.ContentType, fileDownloadName: id + ReceiptFiles.ExtensionOf(file.ContentType));
    }

    private static IResult NotFound(string id) => Problems.Create(LedgerErrors.ReceiptNotFound, $"receipt {id} not found");

    private static IResult TooLarge(int maxBytes) => Problems.Create(LedgerErrors.FileTooLarge,
        $"a receipt is at most {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (Receipts:MaxBytes)");
}

/// <summary>Receipt ids: <c>rcpt_</c> and a time-ordered GUID.</summary>
public static class ReceiptIds
{
    public const string Prefix = "rcpt_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");
}
