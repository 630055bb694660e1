using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// A JSON request body read by hand, so that every way it can be wrong gets its own clear answer
/// (malformed JSON, a missing field, a wrong type), and so that its bytes can be hashed for
/// idempotency. Getters return null and set <see cref="Problem"/> on the first error.
/// </summary>
public sealed class JsonRequest
{
    public const int BodyLengthMax = 64 * 1024;
    public const int MetadataLengthMax = 16 * 1024;

    private readonly JsonElement _root;

    private JsonRequest(JsonElement root, string hash)
    {
        _root = root;
        Hash = hash;
    }

    /// <summary>SHA-256 of the method, the path and the body: what "the same request" means for Idempotency-Key.</summary>
    public string Hash { get; }

    public ProblemHttpResult? Problem { get; private set; }

    public static async Task<(JsonRequest? Request, ProblemHttpResult? Problem)> ReadAsync(HttpRequest http, bool allowEmpty = false)
    {
        using var buffer = new MemoryStream();
        await http.Body.CopyToAsync(buffer, http.HttpContext.RequestAborted);
        if (buffer.Length > BodyLengthMax)
        {
            return (null, Problems.Create(LedgerErrors.ValidationFailed, $"the body exceeds {BodyLengthMax} bytes"));
        }

        var body = buffer.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData([.. System.Text.Encoding.UTF8.GetBytes($"{http.Method} {http.Path}\n"), .. body]));
        if (body.Length == 0 && allowEmpty)
        {
            return (new JsonRequest(JsonDocument.Parse("{}").RootElement, hash), null);
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, Problems.Create(LedgerErrors.ValidationFailed, "the body must be a JSON object"));
            }

            return (new JsonRequest(document.RootElement.Clone(), hash), null);
        }
        catch (JsonException exception)
        {
            return (null, Problems.Create(LedgerErrors.MalformedJson, $"the body is not valid JSON: {exception.Message}"));
        }
    }

    public string? String(string name, bool required, int lengthMax = 255)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? Fail($"{name} is required") : null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            return Fail($"{name} must be a string");
        }

        var text = value.GetString()!;
        return text.Length == 0 || text.Length > lengthMax ? Fail($"{name} must be 1 to {lengthMax} characters") : text;
    }

    /// <summary>An amount as decimal text: a JSON string such as "149.99", or a JSON number.</summary>
    public string? AmountText(string name, bool required)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? Fail($"{name} is required") : null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => NumberText(value.GetRawText()),
            _ => Fail($"{name} must be a decimal string such as \"149.99\" or a JSON number"),
        };
    }

    /// <summary>Metadata: a JSON object of at most <see cref="MetadataLengthMax"/> bytes.</summary>
    public JsonElement? Metadata()
    {
        if (!_root.TryGetProperty("metadata", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Fail("metadata must be a JSON object");
            return null;
        }

        if (value.GetRawText().Length > MetadataLengthMax)
        {
            Fail($"metadata exceeds {MetadataLengthMax} bytes");
            return null;
        }

        return value.Clone();
    }

    // A number written with an exponent ("1e2") becomes plain decimal text; too large for decimal is kept
    // as digits so that the amount check reports it as too large rather than malformed.
    private static string NumberText(string raw)
    {
        if (!raw.Contains('e', StringComparison.OrdinalIgnoreCase))
        {
            return raw;
        }

        return decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value.ToString(CultureInfo.InvariantCulture)
            : new string('9', 40);
    }

    private string? Fail(string detail)
    {
        Problem ??= Problems.Create(LedgerErrors.ValidationFailed, detail);
        return null;
    }
}
