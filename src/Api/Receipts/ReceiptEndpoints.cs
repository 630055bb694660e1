using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.OpenApi;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Cards;
using Wallet.Grains.Storage;

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
/// same file for the same authorization is the same receipt), read back with their file.
/// </summary>
public static class ReceiptEndpoints
{
    public const string MaxBytesSetting = "Receipts:MaxBytes";
    public const int MaxBytesDefault = 10 * 1024 * 1024;

    // What a multipart body carries besides the file: boundaries, headers, the authorization's id.
    private const int FormOverheadBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapReceiptEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/receipts").WithTags("Receipts").RequireAuthorization();
        group.MapPost("", Upload).Accepts<ReceiptUploadForm>("multipart/form-data")
            .Produces<ReceiptView>(StatusCodes.Status202Accepted)
            .Refuses(LedgerErrors.FileUnreadable, LedgerErrors.FileTooLarge, LedgerErrors.FileTypeUnsupported, LedgerErrors.AuthorizationNotFound)
            .WithName("UploadReceipt").WithSummary("Upload a receipt for a card transaction; it is read in the background");
        group.MapGet("{id}", Get).Produces<ReceiptView>().Refuses(LedgerErrors.ReceiptNotFound)
            .WithName("GetReceipt").WithSummary("Get a receipt and its status");
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
        HttpRequest http, ClaimsPrincipal user, ReceiptStore receipts, CardStore cards, IdempotencyStore store, IConfiguration configuration, TimeProvider clock)
    {
        var cancellationToken = http.HttpContext.RequestAborted;
        var maxBytes = configuration.GetValue(MaxBytesSetting, MaxBytesDefault);
        if (http.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = (long)maxBytes + FormOverheadBytes;
        }

        if (http.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) != true)
        {
            return Problems.Create(Problems.UnsupportedMediaType, "send the receipt as multipart/form-data, the file in a field named file");
        }

        IFormCollection form;
        try
        {
            form = await http.ReadFormAsync(cancellationToken);
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(maxBytes);
        }
        catch (InvalidDataException malformed)
        {
            return Problems.Create(LedgerErrors.ValidationFailed, $"the multipart body is malformed: {malformed.Message}");
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

        byte[] content;
        using (var buffer = new MemoryStream((int)upload.Length))
        {
            await upload.CopyToAsync(buffer, cancellationToken);
            content = buffer.ToArray();
        }

        var (file, failure) = ReceiptFiles.Inspect(content);
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
            return outcome == ReceiptUpload.IdempotencyKeyExists
                ? Idempotency.KeyExistsResult.Instance
                : JsonBodyResult.From(StatusCodes.Status202Accepted, receipt!, location: $"/v1/receipts/{receipt!.Id}");
        }, cancellationToken);
    }

    private static async Task<IResult> Get(string id, ClaimsPrincipal user, ReceiptStore receipts, HttpRequest http) =>
        await receipts.FindAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } receipt
            ? TypedResults.Ok(receipt)
            : NotFound(id);

    private static async Task<IResult> GetFile(string id, ClaimsPrincipal user, ReceiptStore receipts, HttpRequest http) =>
        await receipts.ReadFileAsync(user.TenantId(), id, http.HttpContext.RequestAborted) is { } file
            ? TypedResults.File(file.Content, file.ContentType)
            : NotFound(id);

    private static IResult NotFound(string id) => Problems.Create(LedgerErrors.ReceiptNotFound, $"receipt {id} not found");

    private static IResult TooLarge(int maxBytes) => Problems.Create(LedgerErrors.FileTooLarge,
        $"a receipt is at most {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes ({MaxBytesSetting})");
}

/// <summary>Receipt ids: <c>rcpt_</c> and a time-ordered GUID.</summary>
public static class ReceiptIds
{
    public const string Prefix = "rcpt_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");
}
