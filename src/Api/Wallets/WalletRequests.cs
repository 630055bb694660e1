using System.Text.Json;

namespace Wallet.Api.Wallets;

// The request bodies as the OpenAPI document shows them. Bodies are read by JsonRequest, which
// accepts an amount as a decimal string or a JSON number.

public sealed record CreateWalletRequest(
    string Currency, string? OwnerId = null, OwnerRequest? Owner = null, string? OverdraftLimit = null, JsonElement? Metadata = null);

/// <summary>The person who owns a wallet, screened against the tenant's watchlists; <c>owner_id</c> is required with it.</summary>
public sealed record OwnerRequest(string Name, string? Country = null, DateOnly? DateOfBirth = null);

/// <summary>Who a withdrawal pays, screened against the tenant's watchlists before the money moves.</summary>
public sealed record CounterpartyRequest(string Name, string? Country = null);

public sealed record AmountRequest(string Amount, string? Reference = null, string? Description = null, JsonElement? Metadata = null);

/// <summary>A withdrawal: an amount, and who it pays when the client knows (screened before the money moves).</summary>
public sealed record WithdrawRequest(
    string Amount, string? Reference = null, string? Description = null, JsonElement? Metadata = null, CounterpartyRequest? Counterparty = null);

public sealed record TransferRequest(
    string Source, string Destination, string Amount, string? Currency = null, string? Reference = null, string? Description = null, JsonElement? Metadata = null,
    CounterpartyRequest? Counterparty = null);

/// <summary>Wallet ids as the API hands them out; anything else is no wallet of ours.</summary>
public static class WalletIds
{
    public const string Prefix = "wal_";

    public static string New() => Prefix + Guid.CreateVersion7().ToString("N");

    public static bool IsWalletId(string id) => id.Length is > 4 and <= 64 && id.StartsWith(Prefix, StringComparison.Ordinal);
}
