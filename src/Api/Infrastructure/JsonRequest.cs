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

    /// <summary>The body as a JSON object; <paramref name="bodyLengthMax"/> (default <see cref="BodyLengthMax"/>) bytes at most.</summary>
    public static async Task<(JsonRequest? Request, ProblemHttpResult? Problem)> ReadAsync(HttpRequest http, bool allowEmpty = false, int bodyLengthMax = BodyLengthMax)
    {
        using var buffer = new MemoryStream();
        await http.Body.CopyToAsync(buffer, http.HttpContext.RequestAborted);
        if (buffer.Length > bodyLengthMax)
        {
            return (null, Problems.Create(LedgerErrors.ValidationFailed, $"the body exceeds {bodyLengthMax} bytes"));
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

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; null when absent.</summary>
    public long? Integer(string name, long min, long max)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < min || number > max)
        {
            Fail($"{name} must be a whole number from {min} to {max}");
            return null;
        }

        return number;
    }

    /// <summary>A JSON number; null when absent (or not a number, which is a problem).</summary>
    public double? Number(string name)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            Fail($"{name} must be a number");
            return null;
        }

        return value.GetDouble();
    }

    /// <summary>The field's text when it is a JSON string (empty included); null otherwise.</summary>
    public string? RawString(string name) =>
        _root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>true or false; <paramref name="absent"/> when the field is missing or null.</summary>
    public bool Boolean(string name, bool absent = false)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return absent;
        }

        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Fail($"{name} must be true or false");
            return absent;
        }

        return value.GetBoolean();
    }

    /// <summary>An array of strings, each 1 to <paramref name="lengthMax"/> characters; null when absent.</summary>
    public IReadOnlyList<string>? Strings(string name, int countMax = 100, int lengthMax = 255)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > countMax
            || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String || v.GetString()!.Length is 0 || v.GetString()!.Length > lengthMax))
        {
            Fail($"{name} must be an array of at most {countMax} strings of 1 to {lengthMax} characters");
            return null;
        }

        return [.. value.EnumerateArray().Select(v => v.GetString()!)];
    }

    /// <summary>
    /// A nested object as a request of its own (sharing this one's problem); null when absent. When
    /// <paramref name="named"/>, its problems name it (<c>mapping.amount is required</c>).
    /// </summary>
    public JsonRequest? Object(string name, bool named = false)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Fail($"{name} must be a JSON object");
            return null;
        }

        return new JsonRequest(value, Hash) { Parent = this, Path = named ? $"{Path}{name}." : Path };
    }

    /// <summary>
    /// An array of 1 to <paramref name="countMax"/> objects, each a request of its own whose problems
    /// name it (<c>debits[1].amount is required</c>); null when absent.
    /// </summary>
    public IReadOnlyList<JsonRequest>? Objects(string name, int countMax)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() is 0 || value.GetArrayLength() > countMax
            || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Object))
        {
            Fail($"{name} must be an array of 1 to {countMax} JSON objects");
            return null;
        }

        return [.. value.EnumerateArray().Select((item, i) => new JsonRequest(item, Hash) { Parent = this, Path = $"{name}[{i}]." })];
    }

    /// <summary>A required array of 1 to <paramref name="countMax"/> JSON values, as they are; null (and a problem) otherwise.</summary>
    public IReadOnlyList<JsonElement>? Elements(string name, int countMax)
    {
        if (!_root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            Fail($"{name} is required");
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() is 0 || value.GetArrayLength() > countMax)
        {
            Fail($"{name} must be an array of 1 to {countMax} items");
            return null;
        }

        return [.. value.EnumerateArray()];
    }

    /// <summary>Whether the body has the field at all (null counts).</summary>
    public bool Has(string name) => _root.TryGetProperty(name, out _);

    /// <summary>The names of the body's fields.</summary>
    public IEnumerable<string> Fields => _root.EnumerateObject().Select(p => p.Name);

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

    private JsonRequest? Parent { get; init; }

    // How the outer request names this one in problems: "debits[1]." for an item of an array.
    private string Path { get; init; } = "";

    /// <summary>Records the first problem (in the outermost request too); always null.</summary>
    public string? Fail(string detail)
    {
        detail = Path + detail;
        Problem ??= Problems.Create(LedgerErrors.ValidationFailed, detail);
        Parent?.Fail(detail);
        return null;
    }
}
