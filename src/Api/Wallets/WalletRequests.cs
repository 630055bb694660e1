using System.Text.Json;

namespace Wallet.Api.Wallets;

// The request bodies as the OpenAPI document shows them. Bodies are read by JsonRequest, which
// accepts an amount as a decimal string or a JSON number.

public sealed record CreateWalletRequest(string Currency, string? OwnerId = null, string? OverdraftLimit = null, JsonElement? Metadata = null);

public sealed record AmountRequest(string Amount, string? Reference = null, string? Description = null, JsonElement? Metadata = null);

public sealed record TransferRequest(
    string Source, string Destination, string Amount, string? Currency = null, string? Reference = null, string? Description = null, JsonElement? Metadata = null);

/// <summary>Wallet ids as the API hands them out; anything else is no wallet of ours.</summary>
public static class WalletIds
{
    public const string Prefix = "wal_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");

    public static bool IsWalletId(string id) => id.Length is > 4 and <= 64 && id.StartsWith(Prefix, StringComparison.Ordinal);
}
