using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Wallet.Grains.Receipts;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// Card authorizations hold the receipts read on the silo that serves them (<see cref="ReadingYield"/>):
/// a request to a route marked with <see cref="HoldsReceiptReadings{TBuilder}"/> holds them from the
/// moment it is routed until its response is written, its authentication included. A card
/// authorization is answered while the merchant waits; a receipt can be read a moment later.
/// </summary>
public static class ReceiptReadingHold
{
    /// <summary>Marks a route whose requests hold the silo's receipt readings.</summary>
    public static TBuilder HoldsReceiptReadings<TBuilder>(this TBuilder route) where TBuilder : IEndpointConventionBuilder =>
        route.WithMetadata(Marker.Instance);

    /// <summary>The middleware that holds them, placed just after routing (which a web application runs first).</summary>
    public static IApplicationBuilder UseReceiptReadingHold(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<Marker>() is null || context.RequestServices.GetService<ReadingYield>() is not { } yield)
            {
                await next(context);
                return;
            }

            using var authorizing = yield.Authorizing();
            await next(context);
        });

    private sealed class Marker
    {
        public static readonly Marker Instance = new();
    }
}
