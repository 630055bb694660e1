using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Wallet.Grains;
using Wallet.Grains.Storage;

namespace Wallet.Api.Infrastructure;

/// <summary>The <c>limit</c> and <c>cursor</c> query parameters every list takes.</summary>
public sealed record Paging(int Limit, string? Cursor)
{
    /// <summary>Marks a route that reads <see cref="Paging"/>: the OpenAPI document lists its two parameters.</summary>
    public sealed class Marker
    {
        public static readonly Marker Instance = new();
    }

    public const int LimitDefault = 50;
    public const int LimitMax = 200;

    public static (Paging? Paging, ProblemHttpResult? Problem) Read(HttpRequest http)
    {
        var limit = LimitDefault;
        var text = http.Query["limit"].ToString();
        if (text.Length > 0 && (!int.TryParse(text, out limit) || limit < 1 || limit > LimitMax))
        {
            return (null, Problems.Create(LedgerErrors.ValidationFailed, $"limit must be a whole number from 1 to {LimitMax}"));
        }

        var cursor = http.Query["cursor"].ToString();
        return (new Paging(limit, cursor.Length == 0 ? null : cursor), null);
    }

    /// <summary>
    /// A list's answer: the page <paramref name="read"/> gives for the request's limit and cursor, or
    /// the refusal of a bad limit.
    /// </summary>
    public static async Task<IResult> ListAsync<T>(HttpRequest http, Func<int, string?, CancellationToken, Task<Page<T>>> read)
    {
        var (paging, problem) = Read(http);
        if (paging is null)
        {
            return problem!;
        }

        var page = await read(paging.Limit, paging.Cursor, http.HttpContext.RequestAborted);
        return TypedResults.Ok(new ListResponse<T>(page.Data, page.NextCursor));
    }

    /// <summary>A cursor that is a sequence number; a problem when it is not one.</summary>
    public (long? Seq, ProblemHttpResult? Problem) SeqCursor() =>
        Cursor is null ? (null, null)
        : long.TryParse(Cursor, out var seq) && seq >= 0 ? (seq, null)
        : (null, InvalidCursor());

    /// <summary>The refusal of a cursor the list did not give out.</summary>
    public static ProblemHttpResult InvalidCursor() => Problems.Create(LedgerErrors.InvalidCursor, "cursor is not one this list returned");
}

/// <summary>A list answer: <c>{data, next_cursor}</c>.</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Data, string? NextCursor);

public static class PagingEndpoints
{
    /// <summary>The route reads <c>limit</c> and <c>cursor</c> (<see cref="Paging.Read"/>).</summary>
    public static RouteHandlerBuilder Paged(this RouteHandlerBuilder builder) => builder.WithMetadata(Paging.Marker.Instance);
}
