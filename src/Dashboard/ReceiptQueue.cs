using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;
using Orleans;
using Wallet.Api.Infrastructure;
using Wallet.Api.Receipts;
using Wallet.Grains;
using Wallet.Grains.Receipts;

namespace Wallet.Dashboard;

/// <summary>The receipts page's figures, for the signed-in operator's tenant: counts by status, and what needs a look.</summary>
public sealed record ReceiptQueueFigures(
    IReadOnlyDictionary<string, long> Counts,
    IReadOnlyList<ReceiptView> Processing,
    IReadOnlyList<ReceiptView> Failed,
    IReadOnlyList<ReceiptView> Mismatches,
    IReadOnlyList<ReceiptView> Unreadable);

/// <summary>
/// The receipts page: the queue (receipts being read), the failed ones, the mismatches and the
/// unreadable ones of the operator's tenant, each with its file and a retry.
/// </summary>
public static class ReceiptQueue
{
    public const int RowsMax = 50;

    public static async Task<Ok<ReceiptQueueFigures>> ReadAsync(ClaimsPrincipal user, ReceiptStore receipts, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        async Task<IReadOnlyList<ReceiptView>> Of(string status) =>
            (await receipts.ListAsync(new ReceiptQuery(tenantId, status, null, RowsMax, null), ct)).Data;

        return TypedResults.Ok(new ReceiptQueueFigures(
            await receipts.CountByStatusAsync(tenantId, ct),
            await Of(ReceiptStatuses.Processing),
            await Of(ReceiptStatuses.Failed),
            await Of(ReceiptStatuses.Mismatch),
            await Of(ReceiptStatuses.Unreadable)));
    }

    /// <summary>The file to look at on the page: a picture shown in place, a PDF downloaded. Never sniffed into another type.</summary>
    public static async Task<IResult> FileAsync(string id, ClaimsPrincipal user, ReceiptStore receipts, HttpResponse response, CancellationToken ct)
    {
        if (await receipts.ReadFileAsync(user.TenantId(), id, ct) is not { } file)
        {
            return Problems.Create(LedgerErrors.ReceiptNotFound, $"receipt {id} not found");
        }

        response.Headers.XContentTypeOptions = "nosniff";
        return file.ContentType == ReceiptContentTypes.Pdf
            ? TypedResults.File(file.Content, file.ContentType, fileDownloadName: id + ".pdf")
            : TypedResults.File(file.Content, file.ContentType);
    }

    public static async Task<IResult> RetryAsync(
        string id, HttpRequest request, ClaimsPrincipal user, ReceiptStore receipts, IClusterClient client, TimeProvider clock, ILogger<ReceiptQueueFigures> logger)
    {
        if (!DashboardEndpoints.SameOrigin(request))
        {
            return Problems.Create(LedgerErrors.Forbidden, "a retry must be started from this dashboard's own page");
        }

        var (outcome, receipt) = await ReceiptEndpoints.RetryAsync(receipts, client, clock, logger, user.TenantId(), id, null, request.HttpContext.RequestAborted);
        return outcome switch
        {
            ReceiptRetry.NotFound => Problems.Create(LedgerErrors.ReceiptNotFound, $"receipt {id} not found"),
            ReceiptRetry.Verified => Problems.Create(LedgerErrors.ReceiptVerified, $"receipt {id} is verified; it is not read again"),
            _ => TypedResults.Ok(receipt),
        };
    }
}
