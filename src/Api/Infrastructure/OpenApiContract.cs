using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Wallet.Grains;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// What the OpenAPI document says beyond what the routes declare one by one: the bearer scheme, the
/// problem every error answers with, and the answers every route can give (401 without a valid key,
/// 403 for an operator route with a client key, 503 when the ledger cannot answer now).
/// </summary>
internal static class OpenApiContract
{
    /// <summary>The name of the API key scheme in the document.</summary>
    public const string BearerSchemeName = "bearer";

    /// <summary>The schema of every error answer (RFC 9457 with the ledger's <c>code</c>).</summary>
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
        ("API keys", "Keys that authenticate a tenant's clients and operators"),
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
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var authorization = metadata.OfType<IAuthorizeData>().ToList();
            operation.Responses ??= [];
            if (authorization.Count > 0)
            {
                AddProblem(operation, context.Document!, StatusCodes.Status401Unauthorized, "No API key, or one that is not valid");
            }

            if (authorization.Any(a => a.Policy == ApiKeyAuthenticationHandler.OperatorPolicy))
            {
                AddProblem(operation, context.Document!, StatusCodes.Status403Forbidden, "An operator route called with a client key");
            }

            AddProblem(operation, context.Document!, StatusCodes.Status503ServiceUnavailable, "The ledger cannot answer now: retry after Retry-After (with the same Idempotency-Key)");
            foreach (var response in operation.Responses.Values)
            {
                if (response.Content?.TryGetValue(ProblemMediaType, out var media) == true)
                {
                    media.Schema = new OpenApiSchemaReference(ProblemSchemaName, context.Document);
                }
            }

            return Task.CompletedTask;
        });
    }

    private static void AddProblem(OpenApiOperation operation, OpenApiDocument document, int status, string description)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!operation.Responses!.ContainsKey(key))
        {
            operation.Responses[key] = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchemaName, document) } },
            };
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
            Description = "An API key issued by POST /v1/api-keys (the bootstrap operator key at first): Authorization: Bearer <api key>.",
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerSchemeName, document)] = [] }];
    }

    /// <summary>The problem of every error: RFC 9457's members, the ledger's stable <c>code</c>, and some codes' own members (a limit's name, a fraud score).</summary>
    private static void DeclareProblem(OpenApiDocument document)
    {
        document.Components!.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas.Remove("ProblemDetails");
        document.Components.Schemas[ProblemSchemaName] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An RFC 9457 problem with the ledger's stable code.",
            Required = new HashSet<string> { "type", "title", "status", "code" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A URI naming the problem: https://wallet.dev/problems/<code>" },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for people" },
                ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for programs: insufficient_funds, wallet_not_found, ..." },
                ["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String },
            },
            AdditionalPropertiesAllowed = true,
            Examples = [JsonNode.Parse("""
                {"type":"https://wallet.dev/problems/insufficient-funds","title":"Insufficient funds","status":402,
                 "detail":"wallet wal_8f14e45f has 12.00 USD available; 30.50 requested","code":"insufficient_funds"}
                """)!],
        };
    }
}
