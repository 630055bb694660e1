using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>
/// Cards over HTTP: issued only with a number that can be one (12 to 19 digits, Luhn), once per
/// tenant, shown masked; listed, filtered and paged; controls changed under a new version; frozen,
/// unfrozen and cancelled for good. Another tenant sees none of it.
/// </summary>
public sealed class CardTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private HttpClient Client => api.Client;

    public static TheoryData<string> InvalidNumbers =>
    [
        "4242424242424241", // fails the Luhn check
        CardCalls.WithCheckDigit("4242424242"), // 11 digits
        CardCalls.WithCheckDigit("4242424242424242424"), // 20 digits
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "4242abcd42424242",
        "-424242424242424",
        "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", // Arabic-Indic digits: digits, not ASCII ones
    ];

    [Fact]
    public async Task CreateCard_ValidNumber_ReturnsActiveCardWithMaskedNumber()
    {
        var wallet = await Client.CreateWalletAsync();
        var number = CardCalls.NewCardNumber();

        using var response = await Client.PostJsonAsync("/v1/cards", new
        {
            wallet_id = wallet,
            cardholder_name = "  Ada Lovelace ",
            card_number = number,
            metadata = new { team = "analytics" },
        });

        var text = await response.Content.ReadAsStringAsync();
        var card = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.StartsWith("card_", card.Str("id"), StringComparison.Ordinal);
        Assert.Equal($"/v1/cards/{card.Str("id")}", response.Headers.Location?.OriginalString);
        Assert.Equal((wallet, "Ada Lovelace", "USD", "active"), (card.Str("wallet_id"), card.Str("cardholder_name"), card.Str("currency"), card.Str("status")));
        Assert.Equal(("**** **** **** " + number[^4..], number[^4..]), (card.Str("number"), card.Str("last4")));
        Assert.DoesNotContain(number, text, StringComparison.Ordinal);
        Assert.Equal(1, card.GetProperty("controls_version").GetInt32());
        Assert.Equal("analytics", card.GetProperty("metadata").Str("team"));
        var controls = card.GetProperty("spending_controls");
        foreach (var interval in new[] { "per_authorization", "daily", "weekly", "monthly", "all_time" })
        {
            Assert.Equal(JsonValueKind.Null, controls.GetProperty(interval).ValueKind);
        }

        Assert.Equal((0, 0), (controls.GetProperty("allowed_categories").GetArrayLength(), controls.GetProperty("blocked_categories").GetArrayLength()));
        var createdAt = card.GetProperty("created_at").GetDateTimeOffset();
        Assert.True(createdAt > DateTimeOffset.UtcNow.AddMinutes(-5), $"created_at {createdAt:O}");
        Assert.Equal(createdAt, card.GetProperty("updated_at").GetDateTimeOffset());
        Assert.Equal(card.ToString(), (await Client.GetCardAsync(card.Str("id"))).ToString());
    }

    [Theory]
    [MemberData(nameof(InvalidNumbers))]
    public async Task CreateCard_NumberThatCannotBeACardNumber_Returns400CardNumberInvalid(string number)
    {
        var wallet = await Client.CreateWalletAsync();

        var problem = await (await Client.IssueAsync(wallet, number)).ExpectProblemAsync(HttpStatusCode.BadRequest, "card_number_invalid");

        Assert.DoesNotContain(number, problem.ToString(), StringComparison.Ordinal);
        Assert.Empty(await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}"));
    }

    [Theory]
    [InlineData(12)]
    [InlineData(15)]
    [InlineData(19)]
    public async Task CreateCard_NumberOfTwelveToNineteenDigits_IsIssued(int length)
    {
        var wallet = await Client.CreateWalletAsync();
        var number = CardCalls.NewCardNumber(length);

        var card = await (await Client.IssueAsync(wallet, number)).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(number[^4..], card.Str("last4"));
    }

    [Fact]
    public async Task CreateCard_SameNumberTwiceInATenant_Returns409AndAnotherTenantMayUseIt()
    {
        var wallet = await Client.CreateWalletAsync();
        var otherWallet = await Client.CreateWalletAsync();
        var number = CardCalls.NewCardNumber();
        var first = await (await Client.IssueAsync(wallet, number)).ExpectAsync(HttpStatusCode.Created);

        var again = await (await Client.IssueAsync(wallet, number)).ExpectProblemAsync(HttpStatusCode.Conflict, "card_number_exists");
        await (await Client.IssueAsync(otherWallet, number)).ExpectProblemAsync(HttpStatusCode.Conflict, "card_number_exists");

        Assert.DoesNotContain(number, again.ToString(), StringComparison.Ordinal);
        Assert.Equal([first.Str("id")], (await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}")).Select(c => c.Str("id")));
        Assert.Empty(await Client.ListAllAsync($"/v1/cards?wallet_id={otherWallet}"));

        using var tenant = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("cards"));
        var theirs = await (await tenant.IssueAsync(await tenant.CreateWalletAsync(), number)).ExpectAsync(HttpStatusCode.Created);
        Assert.NotEqual(first.Str("id"), theirs.Str("id"));
    }

    [Fact]
    public async Task CreateCard_SameIdempotencyKey_ReplaysTheCardAndIssuesOne()
    {
        var wallet = await Client.CreateWalletAsync();
        var number = CardCalls.NewCardNumber();
        var key = ApiCalls.NewKey();

        using var first = await Client.IssueAsync(wallet, number, idempotencyKey: key);
        using var second = await Client.IssueAsync(wallet, number, idempotencyKey: key);

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (first.StatusCode, second.StatusCode));
        Assert.Equal((null, "true"), (first.Header(CardCalls.ReplayedHeader), second.Header(CardCalls.ReplayedHeader)));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Single(await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}"));
        await (await Client.IssueAsync(wallet, CardCalls.NewCardNumber(), idempotencyKey: key))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "idempotency_key_reused");
        Assert.Single(await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}"));
    }

    /// <summary>A name is trimmed, so one of spaces only would be stored empty: refused like an empty one.</summary>
    [Fact]
    public async Task CreateOrUpdateCard_BlankCardholderName_Returns400ValidationFailed()
    {
        var wallet = await Client.CreateWalletAsync();
        var card = await Client.CreateCardAsync(wallet);

        await (await Client.PostJsonAsync("/v1/cards", new { wallet_id = wallet, cardholder_name = "   ", card_number = CardCalls.NewCardNumber() }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.PatchJsonAsync($"/v1/cards/{card.Str("id")}", new { cardholder_name = " \t " }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");

        Assert.Equal([card.Str("id")], (await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}")).Select(c => c.Str("id")));
        Assert.Equal(card.ToString(), (await Client.GetCardAsync(card.Str("id"))).ToString());
    }

    [Fact]
    public async Task CreateCard_WalletNotOfTheTenant_Returns404WalletNotFound()
    {
        using var tenant = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("cards"));
        var theirs = await tenant.CreateWalletAsync();

        foreach (var wallet in new[] { CardCalls.UnknownWallet, theirs, "not-a-wallet" })
        {
            await (await Client.IssueAsync(wallet, CardCalls.NewCardNumber())).ExpectProblemAsync(HttpStatusCode.NotFound, "wallet_not_found");
        }

        Assert.Empty(await tenant.ListAllAsync($"/v1/cards?wallet_id={theirs}"));
        Assert.Empty(await Client.ListAllAsync($"/v1/cards?wallet_id={theirs}"));
    }

    [Fact]
    public async Task CreateCard_InvalidSpendingControls_Returns400AndIssuesNothing()
    {
        var wallet = await Client.CreateWalletAsync();
        object[] unknownOrInvalidFields =
        [
            new { per_transaction = "10.00" },
            new { daily = "10.00", velocity = 3 },
            new { allowed_categories = new[] { "123" } },
            new { blocked_categories = new[] { "54111" } },
            new { allowed_categories = "5411" },
        ];
        object[] invalidAmounts = [new { daily = "ten dollars" }, new { monthly = "-5.00" }, new { weekly = "0" }, new { all_time = "1.001" }];

        foreach (var controls in unknownOrInvalidFields)
        {
            await (await Client.IssueAsync(wallet, CardCalls.NewCardNumber(), controls)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        foreach (var controls in invalidAmounts)
        {
            using var response = await Client.IssueAsync(wallet, CardCalls.NewCardNumber(), controls);
            var problem = await response.ExpectAsync(HttpStatusCode.BadRequest);
            Assert.True(problem.Str("code") is "validation_failed" or "invalid_amount", $"{JsonSerializer.Serialize(controls)}: {problem}");
        }

        Assert.Empty(await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}"));
    }

    [Fact]
    public async Task CreateCard_WithSpendingControls_StoresLimitsAndCategoriesAsCodes()
    {
        var wallet = await Client.CreateWalletAsync();

        var card = await Client.CreateCardAsync(wallet, new
        {
            per_authorization = "100",
            daily = 250.5,
            weekly = "1000.00",
            monthly = "3000.00",
            all_time = "10000.00",
            allowed_categories = new[] { "grocery_stores_supermarkets", "5812" },
            blocked_categories = new[] { "Betting_Casino_Gambling" },
        });

        var controls = card.GetProperty("spending_controls");
        Assert.Equal(
            ("100.00", "250.50", "1000.00", "3000.00", "10000.00"),
            (controls.Str("per_authorization"), controls.Str("daily"), controls.Str("weekly"), controls.Str("monthly"), controls.Str("all_time")));
        Assert.Equal([CardCalls.Grocery, CardCalls.Restaurant], Codes(controls, "allowed_categories"));
        Assert.Equal([CardCalls.Gambling], Codes(controls, "blocked_categories"));
        Assert.Equal(controls.ToString(), (await Client.GetCardAsync(card.Str("id"))).GetProperty("spending_controls").ToString());
    }

    [Fact]
    public async Task ListCards_ByWalletAndStatus_FiltersAndPagesInIssueOrder()
    {
        var wallet = await Client.CreateWalletAsync();
        var other = await Client.CreateWalletAsync();
        var issued = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            issued.Add((await Client.CreateCardAsync(wallet)).Str("id"));
        }

        await Client.CreateCardAsync(other);
        await Client.ChangeCardStatusAsync(issued[1], "freeze");

        var first = await (await Client.GetAsync($"/v1/cards?wallet_id={wallet}&limit=2")).ExpectAsync(HttpStatusCode.OK);
        var cursor = first.GetProperty("next_cursor").GetString();
        Assert.NotNull(cursor);
        var second = await (await Client.GetAsync($"/v1/cards?wallet_id={wallet}&limit=2&cursor={cursor}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        var paged = first.GetProperty("data").EnumerateArray().Concat(second.GetProperty("data").EnumerateArray()).ToList();
        Assert.Equal(issued, paged.Select(c => c.Str("id")));
        Assert.All(paged, c => Assert.Equal(wallet, c.Str("wallet_id")));

        Assert.Equal([issued[1]], (await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}&status=frozen")).Select(c => c.Str("id")));
        Assert.Equal([issued[0], issued[2]], (await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}&status=active")).Select(c => c.Str("id")));
        Assert.Empty(await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}&status=cancelled"));
        var everyCard = (await Client.ListAllAsync("/v1/cards?status=frozen")).Select(c => c.Str("id")).ToList();
        Assert.Contains(issued[1], everyCard);
        Assert.DoesNotContain(issued[0], everyCard);

        await (await Client.GetAsync("/v1/cards?status=lost")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.GetAsync("/v1/cards?limit=0")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        await (await Client.GetAsync("/v1/cards?cursor=wal_123")).ExpectProblemAsync(HttpStatusCode.BadRequest, "invalid_cursor");
    }

    [Fact]
    public async Task UpdateCard_NewSpendingControls_RaiseControlsVersionAndApplyToNextAuthorization()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("500.00", new { per_authorization = "50.00" });
        var issued = await Client.GetCardAsync(cardId);

        var renamed = await (await Client.PatchJsonAsync($"/v1/cards/{cardId}", new { cardholder_name = "Ada King", metadata = new { desk = 7 } }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(("Ada King", 1, 7), (renamed.Str("cardholder_name"), renamed.GetProperty("controls_version").GetInt32(), renamed.GetProperty("metadata").GetProperty("desk").GetInt32()));
        Assert.Equal("50.00", renamed.GetProperty("spending_controls").Str("per_authorization"));
        Assert.True(renamed.GetProperty("updated_at").GetDateTimeOffset() > issued.GetProperty("updated_at").GetDateTimeOffset());
        Assert.Equal(issued.GetProperty("created_at").GetDateTimeOffset(), renamed.GetProperty("created_at").GetDateTimeOffset());

        var controlled = await (await Client.PatchJsonAsync($"/v1/cards/{cardId}", new { spending_controls = new { per_authorization = "200.00", blocked_categories = new[] { "eating_places_restaurants" } } }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, controlled.GetProperty("controls_version").GetInt32());
        Assert.Equal(("200.00", "Ada King"), (controlled.GetProperty("spending_controls").Str("per_authorization"), controlled.Str("cardholder_name")));
        Assert.Equal([CardCalls.Restaurant], Codes(controlled.GetProperty("spending_controls"), "blocked_categories"));
        Assert.Equal(controlled.ToString(), (await Client.GetCardAsync(cardId)).ToString());

        var approved = await Client.ApproveAsync(cardId, "120.00");
        Assert.Equal(2, approved.GetProperty("controls_version").GetInt32());
        await (await Client.AuthorizeAsync(cardId, "10.00", category: CardCalls.Restaurant)).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");
        await Client.AssertBalancesAsync(wallet, "500.00", "120.00", "380.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task UpdateCard_InvalidChange_Returns400AndChangesNothing()
    {
        var wallet = await Client.CreateWalletAsync();
        var card = await Client.CreateCardAsync(wallet, new { daily = "100.00" });
        var cardId = card.Str("id");
        object[] invalid =
        [
            new { card_number = CardCalls.NewCardNumber() },
            new { status = "frozen" },
            new { spending_controls = new { hourly = "5.00" } },
            new { spending_controls = new { allowed_categories = new[] { "  " } } },
            new { cardholder_name = "" },
        ];

        foreach (var change in invalid)
        {
            await (await Client.PatchJsonAsync($"/v1/cards/{cardId}", change)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation_failed");
        }

        Assert.Equal(card.ToString(), (await Client.GetCardAsync(cardId)).ToString());
    }

    [Fact]
    public async Task ChangeStatus_FreezeUnfreezeCancel_MovesStatusAndCancelledIsFinal_ForChangesToo()
    {
        var wallet = await Client.CreateWalletAsync();
        var cardId = (await Client.CreateCardAsync(wallet)).Str("id");

        Assert.Equal("frozen", (await Client.ChangeCardStatusAsync(cardId, "freeze")).Str("status"));
        Assert.Equal("frozen", (await Client.GetCardAsync(cardId)).Str("status"));
        Assert.Equal("active", (await Client.ChangeCardStatusAsync(cardId, "unfreeze")).Str("status"));
        Assert.Equal("cancelled", (await Client.ChangeCardStatusAsync(cardId, "cancel")).Str("status"));

        foreach (var change in new[] { "unfreeze", "freeze", "cancel" })
        {
            await (await Client.PostEmptyAsync($"/v1/cards/{cardId}/{change}")).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "card_cancelled");
        }

        await (await Client.PatchJsonAsync($"/v1/cards/{cardId}", new { cardholder_name = "Someone Else" })).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "card_cancelled");
        Assert.Equal("cancelled", (await Client.GetCardAsync(cardId)).Str("status"));
        Assert.NotEqual("Someone Else", (await Client.GetCardAsync(cardId)).Str("cardholder_name"));
        Assert.Equal([cardId], (await Client.ListAllAsync($"/v1/cards?wallet_id={wallet}&status=cancelled")).Select(c => c.Str("id")));
    }

    [Fact]
    public async Task ChangeStatus_SameIdempotencyKeyTwice_ReplaysTheFirstAnswer()
    {
        var cardId = (await Client.CreateCardAsync(await Client.CreateWalletAsync())).Str("id");
        var key = ApiCalls.NewKey();

        using var first = await Client.PostJsonAsync($"/v1/cards/{cardId}/freeze", "{}", key);
        await Client.ChangeCardStatusAsync(cardId, "unfreeze");
        using var second = await Client.PostJsonAsync($"/v1/cards/{cardId}/freeze", "{}", key);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal((null, "true"), (first.Header(CardCalls.ReplayedHeader), second.Header(CardCalls.ReplayedHeader)));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal("active", (await Client.GetCardAsync(cardId)).Str("status"));
    }

    [Fact]
    public async Task CardRoutes_AnotherTenantsOrUnknownCard_Return404CardNotFound()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");
        var card = await Client.GetCardAsync(cardId);
        using var tenant = await api.Factory.CreateTenantClientAsync(CardCalls.NewTenant("cards"));

        foreach (var (client, id) in new[] { (tenant, cardId), (Client, CardCalls.UnknownCard), (Client, "wal_notacard") })
        {
            await (await client.GetAsync($"/v1/cards/{id}")).ExpectProblemAsync(HttpStatusCode.NotFound, "card_not_found");
            await (await client.PatchJsonAsync($"/v1/cards/{id}", new { cardholder_name = "Mallory" })).ExpectProblemAsync(HttpStatusCode.NotFound, "card_not_found");
            foreach (var change in new[] { "freeze", "unfreeze", "cancel" })
            {
                await (await client.PostEmptyAsync($"/v1/cards/{id}/{change}")).ExpectProblemAsync(HttpStatusCode.NotFound, "card_not_found");
            }

            await (await client.AuthorizeAsync(id, "10.00")).ExpectProblemAsync(HttpStatusCode.NotFound, "card_not_found");
            await (await client.GetAsync($"/v1/cards/{id}/authorizations")).ExpectProblemAsync(HttpStatusCode.NotFound, "card_not_found");
        }

        Assert.Empty(await tenant.ListAllAsync("/v1/cards"));
        Assert.Empty(await tenant.ListAllAsync($"/v1/card-transactions?card_id={cardId}"));
        Assert.Equal(card.ToString(), (await Client.GetCardAsync(cardId)).ToString());
        Assert.Empty(await Client.DecisionIdsAsync(cardId));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.AssertVerifiedAsync();
    }

    private static List<string> Codes(JsonElement controls, string name) =>
        [.. controls.GetProperty(name).EnumerateArray().Select(c => c.GetString() ?? "")];
}
