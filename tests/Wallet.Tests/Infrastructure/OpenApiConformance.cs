using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Wallet.Tests.Api;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// Checks every answer an API test receives against the checked-in OpenAPI document
/// (<c>docs/openapi.json</c>, which <see cref="OpenApiDocumentTests"/> keeps equal to the served
/// one): the status must be listed for the operation, and a JSON body must match the listed
/// schema, and a problem's code must be one the operation lists for its status. An object schema that names its properties is closed here (a member it does not name
/// is reported unless it allows more), so a new field cannot reach clients undocumented. A
/// mismatch fails the call that received it. With <c>WALLET_OPENAPI_REPORT=&lt;file&gt;</c> the
/// mismatches are appended to that file instead, to see them all in one run.
/// </summary>
public static class OpenApiConformance
{
    public const string ReportVariable = "WALLET_OPENAPI_REPORT";

    private static readonly Lazy<Document> Loaded = new(() => new Document(File.ReadAllText(OpenApiDocumentTests.CheckedInPath)));

    /// <summary>The mismatches of one answer with the document; empty when it conforms or the document has no operation for it.</summary>
    public static IReadOnlyList<string> Check(string method, string path, int status, string? mediaType, string body) =>
        Loaded.Value.Check(method, path, status, mediaType, body);

    /// <summary>
    /// What the document lacks for its operations (an operationId, a summary, a tag, an example of
    /// a body or path parameter taken) and where an example does not match its own schema; and how
    /// many operations take a body.
    /// </summary>
    public static (IReadOnlyList<string> Problems, int BodiesTaken) CheckExamples() => Loaded.Value.CheckExamples();

    /// <summary>A handler for test clients: checks each answer as it arrives.</summary>
    public sealed class Handler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var problems = Check(request.Method.Method, request.RequestUri!.AbsolutePath, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
            if (problems.Count == 0)
            {
                return response;
            }

            var what = $"{request.Method} {request.RequestUri.PathAndQuery} answered {(int)response.StatusCode}: {string.Join("; ", problems)}";
            if (Environment.GetEnvironmentVariable(ReportVariable) is { Length: > 0 } report)
            {
                lock (Loaded)
                {
                    File.AppendAllText(report, what + "\n");
                }

                return response;
            }

            response.Dispose();
            throw new InvalidOperationException($"The answer differs from docs/openapi.json. {what}. Body: {Shorten(body)}");
        }

        private static string Shorten(string body) => body.Length <= 500 ? body : body[..500] + "...";
    }

    private sealed class Document
    {
        private readonly JsonElement _root;
        private readonly List<(Regex Template, string Path)> _paths;

        public Document(string json)
        {
            _root = JsonDocument.Parse(json).RootElement.Clone();
            // Literal segments win over parameters: /v1/wallets/{id} must not take /v1/wallets/x/history.
            _paths = [.. _root.GetProperty("paths").EnumerateObject()
                .Select(p => (Template: new Regex("^" + Regex.Replace(Regex.Escape(p.Name), @"\\\{[^/]+?}", "[^/]+") + "$", RegexOptions.CultureInvariant), Path: p.Name))
                .OrderBy(p => p.Path.Count(c => c == '{'))];
        }

        public IReadOnlyList<string> Check(string method, string path, int status, string? mediaType, string body)
        {
            var template = _paths.FirstOrDefault(p => p.Template.IsMatch(path)).Path;
            if (template is null || !_root.GetProperty("paths").GetProperty(template).TryGetProperty(method.ToLowerInvariant(), out var operation))
            {
                // Outside the API (the dashboard, metrics, health) nothing is documented; inside it, only
                // the framework's answers to a route or method that does not exist go unlisted.
                return !path.StartsWith("/v1/", StringComparison.Ordinal) || status is 404 or 405
                    ? []
                    : [$"{method} {path} answered {status}, but the document has no such operation"];
            }

            var responses = operation.GetProperty("responses");
            if (!responses.TryGetProperty(status.ToString(CultureInfo.InvariantCulture), out var response) && !responses.TryGetProperty("default", out response))
            {
                return [$"status {status} is not listed for {method} {template} (listed: {string.Join(", ", responses.EnumerateObject().Select(r => r.Name))})"];
            }

            if (body.Length == 0)
            {
                return [];
            }

            if (mediaType is null || !response.TryGetProperty("content", out var content) || !content.TryGetProperty(mediaType, out var media))
            {
                return [$"{method} {template} {status} lists no {mediaType ?? "untyped"} body"];
            }

            if (!media.TryGetProperty("schema", out var schema) || !mediaType.EndsWith("json", StringComparison.Ordinal))
            {
                return [];
            }

            var problems = new List<string>();
            var answer = JsonDocument.Parse(body).RootElement;
            Validate(schema, answer, "$", problems);
            // A problem's code must be one the operation lists for the status (its examples, one per
            // code), which only a code its status has can be.
            if (problems.Count == 0 && media.TryGetProperty("examples", out var examples) && answer.ValueKind == JsonValueKind.Object
                && answer.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String && !examples.TryGetProperty(code.GetString()!, out _))
            {
                problems.Add($"code {code.GetString()} is not listed for {method} {template} {status} (listed: {string.Join(", ", examples.EnumerateObject().Select(e => e.Name))})");
            }

            return problems;
        }

        public (IReadOnlyList<string> Problems, int BodiesTaken) CheckExamples()
        {
            var problems = new List<string>();
            var bodies = 0;
            foreach (var path in _root.GetProperty("paths").EnumerateObject())
            {
                foreach (var operation in path.Value.EnumerateObject())
                {
                    var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                    foreach (var member in (string[])["operationId", "summary", "tags"])
                    {
                        if (!operation.Value.TryGetProperty(member, out _))
                        {
                            problems.Add($"{name} has no {member}");
                        }
                    }

                    if (operation.Value.TryGetProperty("requestBody", out var requestBody))
                    {
                        bodies++;
                        var media = requestBody.GetProperty("content").EnumerateObject().First().Value;
                        if (!media.TryGetProperty("example", out var example))
                        {
                            problems.Add($"{name} has no example request");
                        }
                        else
                        {
                            Validate(media.GetProperty("schema"), example, $"{name} example $", problems);
                        }
                    }

                    var parameters = operation.Value.TryGetProperty("parameters", out var listed) ? listed.EnumerateArray().ToList() : [];
                    foreach (var parameter in parameters.Where(p => p.GetProperty("in").GetString() == "path" && !p.TryGetProperty("example", out _)))
                    {
                        problems.Add($"{name} has no example for its {parameter.GetProperty("name")}");
                    }
                }
            }

            return (problems, bodies);
        }

        private JsonElement Resolve(JsonElement schema)
        {
            while (schema.TryGetProperty("$ref", out var reference))
            {
                var name = reference.GetString()!["#/components/schemas/".Length..];
                schema = _root.GetProperty("components").GetProperty("schemas").GetProperty(name);
            }

            return schema;
        }

        private void Validate(JsonElement schema, JsonElement value, string at, List<string> problems)
        {
            schema = Resolve(schema);
            if (schema.TryGetProperty("allOf", out var all))
            {
                foreach (var part in all.EnumerateArray())
                {
                    Validate(part, value, at, problems);
                }
            }

            foreach (var keyword in (string[])["oneOf", "anyOf"])
            {
                if (schema.TryGetProperty(keyword, out var options))
                {
                    var matching = options.EnumerateArray().Count(option => Matches(option, value, at));
                    if (matching == 0 || (keyword == "oneOf" && matching > 1))
                    {
                        problems.Add($"{at} matches {matching} of the {keyword} schemas");
                    }
                }
            }

            if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
            {
                problems.Add($"{at} is {value.ValueKind}, the schema says {type}");
                return;
            }

            if (schema.TryGetProperty("enum", out var values) && !values.EnumerateArray().Any(v => JsonElement.DeepEquals(v, value)))
            {
                problems.Add($"{at} is {value}, not one of {values}");
            }

            if (value.ValueKind == JsonValueKind.String && schema.TryGetProperty("format", out var format) && format.GetString() == "date-time"
                && !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
            {
                problems.Add($"{at} is not a date-time: {value}");
            }

            if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
            {
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    Validate(items, item, $"{at}[{index++}]", problems);
                }
            }

            if (value.ValueKind == JsonValueKind.Object)
            {
                ValidateObject(schema, value, at, problems);
            }
        }

        private void ValidateObject(JsonElement schema, JsonElement value, string at, List<string> problems)
        {
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray().Select(n => n.GetString()!).Where(n => !value.TryGetProperty(n, out _)))
                {
                    problems.Add($"{at}.{name} is required but missing");
                }
            }

            var hasProperties = schema.TryGetProperty("properties", out var properties);
            var more = schema.TryGetProperty("additionalProperties", out var additional) ? additional : default;
            foreach (var member in value.EnumerateObject())
            {
                if (hasProperties && properties.TryGetProperty(member.Name, out var property))
                {
                    Validate(property, member.Value, $"{at}.{member.Name}", problems);
                }
                else if (more.ValueKind == JsonValueKind.Object)
                {
                    Validate(more, member.Value, $"{at}.{member.Name}", problems);
                }
                else if (hasProperties && more.ValueKind != JsonValueKind.True)
                {
                    problems.Add($"{at}.{member.Name} is sent but not in the schema");
                }
            }
        }

        private bool Matches(JsonElement schema, JsonElement value, string at)
        {
            var problems = new List<string>();
            Validate(schema, value, at, problems);
            return problems.Count == 0;
        }

        private static bool TypeMatches(JsonElement type, JsonElement value) =>
            type.ValueKind == JsonValueKind.Array
                ? type.EnumerateArray().Any(t => TypeMatches(t.GetString()!, value))
                : TypeMatches(type.GetString()!, value);

        private static bool TypeMatches(string type, JsonElement value) => type switch
        {
            "object" => value.ValueKind == JsonValueKind.Object,
            "array" => value.ValueKind == JsonValueKind.Array,
            "string" => value.ValueKind == JsonValueKind.String,
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
            "number" => value.ValueKind == JsonValueKind.Number,
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => value.ValueKind == JsonValueKind.Null,
            _ => false,
        };
    }
}
