using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Wallet.Grains.Cards;
using Wallet.Grains.Receipts;
using Wallet.Grains.Reconciliation;
using Wallet.Grains.Wallets;

namespace Wallet.Api.Infrastructure;

/// <summary>
/// An example request for every operation of the OpenAPI document: its body when it takes one, and
/// an id of the right kind for each path parameter. The tests check that every operation has them,
/// and that each matches its schema.
/// </summary>
internal static class OpenApiExamples
{
    private const string WalletA = "wal_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b";
    private const string WalletB = "wal_0193a1c2e4b87d6f9a0b1c2d3e4f5a7c";
    private const string Card = "card_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b";
    private const string Authorization = "auth_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b";

    private static readonly Dictionary<string, string> Bodies = new(StringComparer.Ordinal)
    {
        ["CreateWallet"] = """{"currency":"USD","owner_id":"alice","owner":{"name":"Alice Martin","country":"FR","date_of_birth":"1988-04-12"},"metadata":{"plan":"gold"}}""",
        ["Deposit"] = """{"amount":"100.00","reference":"top-up-7","description":"Top-up by card"}""",
        ["Withdraw"] = """{"amount":"40.00","reference":"payout-19","counterparty":{"name":"Bob Durand","country":"FR"}}""",
        ["Spend"] = """{"amount":"30.50","reference":"order-42","description":"Order 42","metadata":{"order":42}}""",
        ["Bonus"] = """{"amount":"25.00","reference":"welcome-bonus-alice"}""",
        ["CreateTransfer"] = $$"""{"source":"{{WalletA}}","destination":"{{WalletB}}","amount":"25.00","reference":"rent-2026-12","description":"December rent"}""",
        ["PostEntry"] = $$"""
            {"currency":"USD","debits":[{"account":"{{WalletA}}","amount":"100.00"}],
             "credits":[{"account":"@revenue","amount":"97.00"},{"account":"@fees","amount":"3.00"}],"reference":"order-77"}
            """,
        ["CreateHold"] = $$"""{"wallet_id":"{{WalletA}}","amount":"80.00","expires_in_seconds":3600,"reference":"hotel-12"}""",
        ["CaptureHold"] = """{"amount":"65.00","final":true}""",
        ["CreateCard"] = $$$"""
            {"wallet_id":"{{{WalletA}}}","cardholder_name":"Alice Martin","card_number":"4242424242424242",
             "spending_controls":{"per_authorization":"500.00","daily":"1000.00","blocked_categories":["7995"]}}
            """,
        ["UpdateCard"] = """{"spending_controls":{"daily":"2000.00","allowed_categories":["5943","OFFICE"]}}""",
        ["AuthorizeCard"] = """{"amount":"149.99","merchant_name":"Office Supplies Inc.","merchant_category":"OFFICE","merchant_country":"US"}""",
        ["CaptureAuthorization"] = """{"amount":"149.99","final":true}""",
        ["ReverseAuthorization"] = """{"amount":"20.00"}""",
        ["IncrementAuthorization"] = """{"amount":"15.00"}""",
        ["ReplaceFraudRules"] = """{"max_amount":"2500.00","velocity_per_minute":10,"blocked_countries":["KP"],"review_categories":["7995"]}""",
        ["CreateApiKey"] = """{"tenant_id":"acme","role":"client"}""",
        ["DeclareAsset"] = """{"code":"GOLD","scale":0,"name":"Gold (grams)"}""",
        ["SetBudget"] = """{"currency":"USD","amount":"1000000.00"}""",
        // A multipart form: the file's part is its bytes, named here.
        ["UploadReceipt"] = $$"""{"file":"receipt-2026-12-04.jpg","authorization_id":"{{Authorization}}"}""",
        ["CreateReconciliationSource"] = """
            {"name":"bank-main","ledger_account":"@settlement","format":"csv","bad_rows":"refuse_file",
             "mapping":{"external_id":"txn_id","amount":"amount","currency":"ccy","timestamp":"booked","reference":"ref","description":"memo",
                        "thousands_separator":",","time_zone":"Europe/London"},
             "tolerances":{"amount":"0.05","time_window_seconds":86400,"fuzzy_threshold":0.8},
             "schedule":{"cron":"0 6 * * *","time_zone":"Europe/London"}}
            """,
        ["UploadReconciliationFile"] = """{"file":"bank-2025-07-13.csv"}""",
        ["PushReconciliationRecords"] = """{"records":[{"payout_id":"po_81","net":"1250.00","paid_at":"2025-07-13T06:00:00Z"}]}""",
        ["InviteUser"] = """{"email":"dana@example.com","roles":["finance"]}""",
        ["ChangeUserRoles"] = """{"roles":["finance","support"]}""",
        ["ImportWatchlist"] = """{"file":"sanctions-2026-12.csv","name":"sanctions"}""",
        ["ScreenName"] = """{"name":"Ivan Sidorenko","country":"RU","date_of_birth":"1961-03-14"}""",
        ["ResolveScreening"] = """{"decision":"cleared","note":"date of birth and passport differ from the listed person's"}""",
        ["CreateDataRequest"] = """{"owner_id":"alice","kind":"export"}""",
        ["CreateAccount"] = """{"name":"marketing","type":"expense","asset":"USD"}""",
        ["AcceptInvitation"] = """{"invitation_token":"winv_3q2-7wF0cXb1ZsP9Hk4aLmN8eR5tYuI6oP0aS1dF2gH","password":"correct horse battery staple"}""",
        ["Register"] = """{"email":"dana@example.com","password":"correct horse battery staple"}""",
        ["Login"] = """{"email":"dana@example.com","password":"correct horse battery staple"}""",
        ["LoginMfa"] = """{"mfa_token":"eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c3JfMDE5M2ExYzIifQ.c2lnbmF0dXJl","code":"492039"}""",
        ["VerifyMfa"] = """{"code":"492039"}""",
        ["RefreshToken"] = """{"refresh_token":"wrt_Xk3v9Qm2LpR7sT1uW4yZ6aB8cD0eF2gH4iJ6kL8mN0o"}""",
        ["Logout"] = """{"refresh_token":"wrt_Xk3v9Qm2LpR7sT1uW4yZ6aB8cD0eF2gH4iJ6kL8mN0o"}""",
        ["CreateReconciliationRun"] = """{"source_id":"rsrc_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b","date":"2025-07-13"}""",
        ["ResolveReconciliationItem"] = """
            {"action":"match","counterpart_id":"ritm_0193a1c2e4b87d6f9a0b1c2d3e4f5a6c_17","note":"the bank booked it under the processor's payout id"}
            """,
    };

    // A path parameter's example by the route it is part of: the id of what the route is about.
    private static readonly (string Prefix, string Example)[] Ids =
    [
        ("/v1/wallets/", WalletA),
        ("/v1/transfers/", "tr_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/entries/", "en_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/holds/", "hold_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/cards/", Card),
        ("/v1/authorizations/", Authorization),
        ("/v1/system-accounts/", "treasury"),
        ("/v1/receipts/", "rcpt_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/reconciliation/sources/", "rsrc_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/reconciliation/runs/", "rrun_0193a1c2e4b87d6f9a0b1c2d3e4f5a6c"),
        ("/v1/reconciliation/items/", "ritm_0193a1c2e4b87d6f9a0b1c2d3e4f5a6c_16"),
        ("/v1/api-keys/", "ak_3f9c2a1b7d4e6f80"),
        ("/v1/users/", "usr_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/compliance/screenings/", "scr_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/compliance/jobs/", "job_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ("/v1/periods/", "2025-07"),
        ("/v1/compliance/data-requests/", "dsr_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
    ];

    // A query parameter's example by its name (the cursor has none: it is the next_cursor of a page).
    private static readonly Dictionary<string, JsonNode> Queries = new(StringComparer.Ordinal)
    {
        ["limit"] = JsonValue.Create(50),
        ["after"] = JsonValue.Create(0L),
        ["owner_id"] = JsonValue.Create("alice"),
        ["currency"] = JsonValue.Create("USD"),
        ["wallet_id"] = JsonValue.Create(WalletA),
        ["card_id"] = JsonValue.Create(Card),
        ["authorization_id"] = JsonValue.Create(Authorization),
        ["source_id"] = JsonValue.Create("rsrc_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ["actor"] = JsonValue.Create("user:usr_0193a1c2e4b87d6f9a0b1c2d3e4f5a6b"),
        ["action"] = JsonValue.Create("auth.login"),
        ["from"] = JsonValue.Create("2025-07-13T00:00:00Z"),
        ["to"] = JsonValue.Create("2025-07-14T00:00:00Z"),
        ["as_of"] = JsonValue.Create("2025-07-14T00:00:00Z"),
        ["asset"] = JsonValue.Create("USD"),
        ["period"] = JsonValue.Create("2025-07"),
    };

    // The values of a list's other closed filters, by parameter.
    private static readonly Dictionary<string, IReadOnlyList<string>> Filters = new(StringComparer.Ordinal)
    {
        ["receipt"] = AuthorizationReceipts.Filters,
        ["side"] = ReconItemView.Sides,
        ["matched"] = ["true", "false"],
    };

    // The values a list's status filter takes, by operation.
    private static readonly Dictionary<string, IReadOnlyList<string>> StatusFilters = new(StringComparer.Ordinal)
    {
        ["ListWallets"] = [WalletStatuses.Active, WalletStatuses.Frozen, WalletStatuses.Closed],
        ["ListCards"] = [CardStatuses.Active, CardStatuses.Frozen, CardStatuses.Cancelled],
        ["ListCardAuthorizations"] = AuthorizationStatuses.All,
        ["ListCardTransactions"] = AuthorizationStatuses.All,
        ["ListReceipts"] = ReceiptStatuses.All,
    };

    /// <summary>Gives <paramref name="operation"/> its example body and parameter examples.</summary>
    public static void Apply(OpenApiOperation operation, string path)
    {
        if (operation.RequestBody?.Content?.Values.FirstOrDefault() is { } media
            && operation.OperationId is { } id && Bodies.TryGetValue(id, out var body))
        {
            media.Example = JsonNode.Parse(body);
        }

        var example = Ids.FirstOrDefault(i => path.StartsWith(i.Prefix, StringComparison.Ordinal)).Example;
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>().Where(p => p.In == ParameterLocation.Path && example is not null) ?? [])
        {
            parameter.Example = JsonValue.Create(example);
        }

        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>().Where(p => p.In == ParameterLocation.Query) ?? [])
        {
            if ((parameter.Name == "status" && operation.OperationId is { } list && StatusFilters.TryGetValue(list, out var values))
                || Filters.TryGetValue(parameter.Name!, out values))
            {
                parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))] };
                parameter.Example = JsonValue.Create(values[0]);
            }
            else if (Queries.TryGetValue(parameter.Name!, out var value))
            {
                parameter.Example = value.DeepClone();
            }
        }
    }
}
