using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Wallet.Api.Auth;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// What the OpenAPI document says beyond what the routes declare one by one: the bearer scheme, the
/// problem schema of each error status, the answers every route of a kind can give (401 without a
/// valid key, 403 for a route whose permission the caller's role lacks, 429 past a caller's rate limit, 503 when
/// the ledger cannot answer now)
/// and, under each problem answer, the codes its route answers with.
/// </summary>
internal static class OpenApiContract
{
    /// <summary>The name of the API key scheme in the document.</summary>
    public const string BearerSchemeName = "bearer";

    /// <summary>The schemas of error answers (RFC 9457 with the ledger's <c>code</c>): this and the status, as <c>Problem402</c>.</summary>
    public const string ProblemSchemaName = "Problem";

    private const string ProblemMediaType = "application/problem+json";

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Wallets", "Wallets, their balances and history, and the shorthand movements against the system accounts"),
        ("Transfers", "Money moved from one account to another"),
        ("Entries", "Multi-leg entries: several accounts in one balanced entry"),
        ("Holds", "Money set aside in a wallet until it is captured, voided or expires"),
        ("Cards", "Cards on wallets and their spending controls"),
        ("Authorizations", "Card payments: decisions, captures, reversals and increments"),
        ("Fraud rules", "The tenant's rules that score and block authorizations"),
        ("Ledger", "Committed entries in order, and the ledger's verification"),
        ("Assets", "Custom assets a tenant's wallets may hold"),
        ("System accounts", "The budgets of the accounts that issue money"),
        ("Receipts", "Receipts for card transactions, uploaded and read in the background"),
        ("API keys", "Keys that authenticate a tenant's clients and operators"),
        ("Reports", "Accounting reports of the ledger, as of an instant or over a period"),
        ("Compliance", "Watchlists, and screenings of names against them"),
    ];

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Wallet API";
            document.Info.Description = "Wallets, transfers, cards and the ledger. Authenticate with Authorization: Bearer <api key>.";
            // Not the address the document was read from, which differs by caller: the quick start's silo.
            document.Servers = [new OpenApiServer { Url = "http://localhost:5080", Description = "A silo started with dotnet run --project src/Silo" }];
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
            DeclareBearerScheme(document);
            DeclareProblem(document);
            DescribeMetadata(document);
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var document = context.Document!;
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var authorization = metadata.OfType<IAuthorizeData>().ToList();
            var method = context.Description.HttpMethod;
            operation.Responses ??= [];
            operation.Parameters ??= [];
            if (authorization.Select(a => a.Policy).LastOrDefault(p => p is not null && Permissions.Roles.ContainsKey(p)) is { } permission)
            {
                var who = $"Permission `{permission}`: roles {string.Join(", ", Permissions.Roles[permission])}.";
                operation.Description = operation.Description is { Length: > 0 } described ? described + "\n\n" + who : who;
            }

            if (method is "POST" or "PATCH" && !metadata.OfType<WithoutIdempotencyKey>().Any())
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = Idempotency.HeaderName,
                    In = ParameterLocation.Header,
                    Description = "Makes a retry safe: the same key and body within the tenant replay the first answer (Idempotent-Replayed: true); the key with another body is a 409.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = Grains.Storage.IdempotencyStore.KeyLengthMax },
                });
            }

            if (metadata.OfType<Paging.Marker>().Any())
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "limit",
                    In = ParameterLocation.Query,
                    Description = $"How many items, 1 to {Paging.LimitMax} ({Paging.LimitDefault} when absent).",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = Paging.LimitMax.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                });
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "cursor",
                    In = ParameterLocation.Query,
                    Description = "The next_cursor of the page before; the first page without it.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }

            // Every status the route's codes have is an answer of the route, with those codes.
            var codes = CodesOf(operation, metadata, authorization);
            // Every caller's bucket (RateLimits): on each authenticated /v1 route, and on signing in.
            if ((authorization.Count > 0 && context.Description.RelativePath?.StartsWith("v1/", StringComparison.Ordinal) == true)
                || metadata.OfType<Microsoft.AspNetCore.RateLimiting.EnableRateLimitingAttribute>().Any())
            {
                codes.Add(Problems.RateLimited);
            }

            foreach (var status in codes.Select(Problems.StatusFor).Distinct())
            {
                AddProblem(operation, document, status);
            }

            OpenApiExamples.Apply(operation, "/" + context.Description.RelativePath);
            foreach (var (status, response) in operation.Responses)
            {
                if (response.Content?.TryGetValue(ProblemMediaType, out var media) == true && int.TryParse(status, out var statusCode))
                {
                    var listed = codes.Where(c => Problems.StatusFor(c) == statusCode).Order(StringComparer.Ordinal).ToList();
                    if (listed.Count == 0)
                    {
                        throw new InvalidOperationException($"{operation.OperationId} answers {status} with no problem code; declare its codes with .Refuses(...)");
                    }

                    media.Schema = new OpenApiSchemaReference(ProblemSchemaName + status, document);
                    media.Examples = listed.ToDictionary(c => c, c => (IOpenApiExample)new OpenApiExampleReference(c, document));
                    if (response is OpenApiResponse own)
                    {
                        own.Description = $"{ReasonPhrases.GetReasonPhrase(statusCode)}: {string.Join(", ", listed)}";
                    }
                }
            }

            // Statuses in order, whatever order the route and the contract added them in.
            var responses = operation.Responses.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
            operation.Responses.Clear();
            foreach (var (status, response) in responses)
            {
                operation.Responses[status] = response;
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>Marks a mutating route that takes no Idempotency-Key (the document lists none for it).</summary>
    public sealed class WithoutIdempotencyKey;

    /// <summary>
    /// The codes <paramref name="operation"/> can answer with: its route's own
    /// (<see cref="RouteProblems.Refuses"/>) and those of what it takes and who may call it.
    /// </summary>
    private static HashSet<string> CodesOf(OpenApiOperation operation, IList<object> metadata, List<IAuthorizeData> authorization)
    {
        var codes = new HashSet<string>(metadata.OfType<RouteProblems.Codes>().SelectMany(c => c.Values), StringComparer.Ordinal) { LedgerErrors.Unavailable };
        // A route without a body of its own still reads one sent, as JSON (a bodiless command's {}).
        var readsJson = operation.RequestBody?.Content?.ContainsKey("application/json") ?? true;
        if (operation.RequestBody is not null)
        {
            codes.UnionWith([LedgerErrors.ValidationFailed, Problems.UnsupportedMediaType]);
        }

        if (readsJson && (operation.RequestBody is not null || operation.Parameters!.Any(p => p.Name == Idempotency.HeaderName)))
        {
            codes.Add(LedgerErrors.MalformedJson);
        }

        if (operation.Parameters!.Any(p => p.In is ParameterLocation.Query or ParameterLocation.Header))
        {
            codes.Add(LedgerErrors.ValidationFailed);
        }

        if (operation.Parameters!.Any(p => p.Name == Idempotency.HeaderName))
        {
            // conflict: the key is taken by a request whose answer is not stored yet (a race).
            codes.UnionWith([LedgerErrors.IdempotencyKeyReused, LedgerErrors.Conflict]);
        }

        if (metadata.OfType<Paging.Marker>().Any())
        {
            codes.Add(LedgerErrors.InvalidCursor);
        }

        if (authorization.Count > 0)
        {
            codes.Add(LedgerErrors.Unauthorized);
        }

        if (authorization.Any(a => a.Policy is not null && Permissions.Roles.ContainsKey(a.Policy)))
        {
            codes.Add(LedgerErrors.Forbidden);
        }

        return codes;
    }

    /// <summary>A problem with <paramref name="code"/> as the API sends it, without the detail.</summary>
    private static JsonObject Example(string code) => new()
    {
        ["type"] = Problems.TypeOf(code),
        ["title"] = Problems.TitleOf(code),
        ["status"] = Problems.StatusFor(code),
        ["code"] = code,
    };

    private static void AddProblem(OpenApiOperation operation, OpenApiDocument document, int status)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!operation.Responses!.ContainsKey(key))
        {
            operation.Responses[key] = new OpenApiResponse
            {
                Content = new Dictionary<string, OpenApiMediaType> { [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchemaName + key, document) } },
            };
        }
    }

    /// <summary>
    /// <c>metadata</c>, wherever it is taken or shown, is the client's own JSON object or null; the
    /// generator says "any JSON" (<c>{}</c>) or "null, or any JSON", which null matches twice.
    /// </summary>
    private static void DescribeMetadata(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        schemas.Remove("JsonElement");
        foreach (var schema in schemas.Values.OfType<OpenApiSchema>())
        {
            // Any other free-form JSON shown (an audit row's details) is a JSON object of its own.
            foreach (var name in schema.Properties?.Where(p => p.Key != "metadata" && p.Value is OpenApiSchemaReference { Reference.Id: "JsonElement" })
                         .Select(p => p.Key).ToList() ?? [])
            {
                schema.Properties![name] = new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalProperties = new OpenApiSchema() };
            }

            if (schema.Properties?.ContainsKey("metadata") == true)
            {
                schema.Properties["metadata"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object | JsonSchemaType.Null,
                    AdditionalProperties = new OpenApiSchema(),
                    Description = $"The client's own JSON object (at most {JsonRequest.MetadataLengthMax / 1024} KiB), kept and shown as sent; null when none.",
                };
            }
        }
    }

    /// <summary>
    /// Every route takes an API key as a bearer token, so the scheme is declared once and required of
    /// the whole document (clients generated from it send the header).
    /// </summary>
    private static void DeclareBearerScheme(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerSchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key issued by POST /v1/api-keys (the bootstrap operator key at first), or a person's access token from POST /v1/auth/login: Authorization: Bearer <key or token>.",
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerSchemeName, document)] = [] }];
    }

    /// <summary>
    /// The problem of every error: RFC 9457's members, the ledger's stable <c>code</c>, and some codes'
    /// own members (a limit's name, a fraud score). Each status an answer has gets a whole schema of its
    /// own whose <c>code</c> lists that status's codes (not an <c>allOf</c> of a general problem and a
    /// narrower <c>code</c>, which client generators merge badly: Kiota dropped the member).
    /// </summary>
    private static void DeclareProblem(OpenApiDocument document)
    {
        document.Components!.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas.Remove("ProblemDetails");
        // One example per code, which each operation's problem answers refer to by the codes it lists.
        document.Components.Examples ??= new Dictionary<string, IOpenApiExample>();
        foreach (var code in Problems.Statuses.SelectMany(Problems.CodesOf))
        {
            document.Components.Examples[code] = new OpenApiExample { Summary = Problems.TitleOf(code), Value = Example(code) };
        }

        foreach (var status in Problems.Statuses)
        {
            var codes = Problems.CodesOf(status).ToList();
            document.Components.Schemas[ProblemSchemaName + status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = $"A problem of status {status}.",
                Required = new HashSet<string> { "type", "title", "status", "code" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A URI naming the problem: https://wallet.dev/problems/<code>" },
                    ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                    ["detail"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "What went wrong, for people",
                        // Kiota: the generated exception's Message is this member.
                        Extensions = new Dictionary<string, IOpenApiExtension> { ["x-ms-primary-error-message"] = new JsonNodeExtension(JsonValue.Create(true)) },
                    },
                    ["code"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "What went wrong, for programs",
                        Enum = [.. codes.Select(c => (JsonNode)JsonValue.Create(c))],
                    },
                    ["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                AdditionalProperties = new OpenApiSchema(),
                Examples = [Example(codes[0])],
            };
        }
    }
}
