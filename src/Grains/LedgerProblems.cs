using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wallet.Grains;

/// <summary>
/// How a problem code is answered over HTTP: its status, title and type, and the RFC 9457 body.
/// Not a contract (clients of the grains see codes, never statuses): it lives beside the grains
/// because the card grain stores a declined authorization's answer with its Idempotency-Key, the
/// same body the API would write.
/// </summary>
public static class LedgerProblems
{
    public const string InternalError = "internal_error";
    public const string RateLimited = "rate_limited";

    public static int StatusOf(string code) => code switch
    {
        LedgerErrors.ValidationFailed or LedgerErrors.MalformedJson or LedgerErrors.InvalidAmount or LedgerErrors.UnknownCurrency
            or LedgerErrors.SameWallet or LedgerErrors.InvalidCursor or LedgerErrors.CardNumberInvalid => 400,
        LedgerErrors.Unauthorized => 401,
        LedgerErrors.InsufficientFunds => 402,
        LedgerErrors.Forbidden or LedgerErrors.FraudBlocked => 403,
        LedgerErrors.WalletNotFound or LedgerErrors.TransferNotFound or LedgerErrors.NotFound or LedgerErrors.HoldNotFound
            or LedgerErrors.CardNotFound or LedgerErrors.AuthorizationNotFound => 404,
        LedgerErrors.IdempotencyKeyReused or LedgerErrors.Conflict or LedgerErrors.CardNumberExists => 409,
        LedgerErrors.CurrencyMismatch or LedgerErrors.WalletFrozen or LedgerErrors.WalletClosed or LedgerErrors.LimitExceeded
            or LedgerErrors.InvalidStatusChange or LedgerErrors.HoldClosed or LedgerErrors.AmountExceedsHold or LedgerErrors.CardFrozen
            or LedgerErrors.CardCancelled or LedgerErrors.CategoryBlocked or LedgerErrors.AuthorizationClosed => 422,
        RateLimited => 429,
        LedgerErrors.Unavailable => 503,
        _ => 500,
    };

    public static string TitleOf(string code) => code switch
    {
        LedgerErrors.InsufficientFunds => "Insufficient funds",
        LedgerErrors.IdempotencyKeyReused => "Idempotency-Key reused with another request",
        LedgerErrors.Unavailable => "Temporarily unavailable",
        _ => char.ToUpperInvariant(code[0]) + code[1..].Replace('_', ' '),
    };

    public static string TypeOf(string code) => $"https://wallet.dev/problems/{code.Replace('_', '-')}";

    /// <summary>The problem body of <paramref name="failure"/>, its extensions included.</summary>
    public static string Serialize(LedgerFailure failure)
    {
        var body = new JsonObject
        {
            ["type"] = TypeOf(failure.Code),
            ["title"] = TitleOf(failure.Code),
            ["status"] = StatusOf(failure.Code),
            ["detail"] = failure.Detail,
            ["code"] = failure.Code,
        };
        if (failure.Extensions is not null)
        {
            foreach (var (name, value) in JsonNode.Parse(failure.Extensions)!.AsObject().ToArray())
            {
                body[name] = value?.DeepClone();
            }
        }

        return body.ToJsonString(WalletJson.Options);
    }

    /// <summary>Extension members as <see cref="LedgerFailure.Extensions"/> text.</summary>
    public static string Extensions<T>(T members) => JsonSerializer.Serialize(members, WalletJson.Options);
}
