using System.Text.Json;
using System.Text.Json.Nodes;
using Wallet.Grains.Wallets;

namespace Wallet.Grains;

/// <summary>
/// The answers kept with Idempotency-Keys. A result is its JSON view; a refusal is its failure as
/// one JSON object (<c>code</c>, <c>detail</c> and the extension members). No status, no problem
/// shape: rendering an answer is the caller's, the same for the first answer and its replay.
/// </summary>
public static class StoredAnswers
{
    public static StoredAnswer Created<T>(T result) => new(AnswerOutcome.Created, Json(result));

    public static StoredAnswer Done<T>(T result) => new(AnswerOutcome.Done, Json(result));

    public static StoredAnswer Accepted<T>(T result) => new(AnswerOutcome.Accepted, Json(result));

    public static StoredAnswer Refused(LedgerFailure failure) =>
        new(AnswerOutcome.Refused, WithExtensions(new JsonObject { ["code"] = failure.Code, ["detail"] = failure.Detail }, failure));

    /// <summary><paramref name="body"/> followed by <paramref name="failure"/>'s extension members, in their order, as text.</summary>
    public static string WithExtensions(JsonObject body, LedgerFailure failure)
    {
        if (failure.Extensions is not null)
        {
            foreach (var (name, value) in JsonNode.Parse(failure.Extensions)!.AsObject().ToArray())
            {
                body[name] = value?.DeepClone();
            }
        }

        return body.ToJsonString(WalletJson.Options);
    }

    /// <summary>The failure a <see cref="AnswerOutcome.Refused"/> answer stores.</summary>
    public static LedgerFailure FailureOf(StoredAnswer answer)
    {
        if (answer.Outcome != AnswerOutcome.Refused)
        {
            throw new ArgumentException($"a {answer.Outcome} answer carries no failure", nameof(answer));
        }

        var body = JsonNode.Parse(answer.Body)!.AsObject();
        var code = (string)body["code"]!;
        var detail = (string)body["detail"]!;
        body.Remove("code");
        body.Remove("detail");
        return new LedgerFailure(code, detail, body.Count == 0 ? null : body.ToJsonString(WalletJson.Options));
    }

    /// <summary>Extension members as <see cref="LedgerFailure.Extensions"/> text.</summary>
    public static string Extensions<T>(T members) => Json(members);

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, WalletJson.Options);
}
