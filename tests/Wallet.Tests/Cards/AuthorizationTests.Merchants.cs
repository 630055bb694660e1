using System.Net;
using System.Text.Json;
using Wallet.Tests.Api;
using Xunit;

namespace Wallet.Tests.Cards;

/// <summary>Merchant categories (codes, names, labels or none) and merchant names, against the card's controls.</summary>
public sealed partial class AuthorizationTests
{
    [Fact]
    public async Task Authorize_WithALabelOrNoCategory_IsApprovedAndShowsTheLabelAndTheNameNormalized()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00");

        var office = await Client.ApproveAsync(cardId, "10.00", "office");
        using var response = await Client.PostJsonAsync($"/v1/cards/{cardId}/authorizations", new { amount = "5.00", merchant_name = "Office Supplies Inc." });
        var none = await response.ExpectAsync(HttpStatusCode.Created);

        Assert.Equal("OFFICE", office.Str("merchant_category"));
        Assert.Equal(("OFFICE SUPPLIES INC", "Office Supplies Inc."), (none.Str("merchant_name"), none.Str("merchant_name_original")));
        Assert.Equal(("approved", JsonValueKind.Null), (none.Str("status"), none.GetProperty("merchant_category").ValueKind));
        Assert.Equal(none.ToString(), (await Client.GetAuthorizationAsync(none.Str("id"))).ToString());
        await Client.AssertBalancesAsync(wallet, "100.00", "15.00", "85.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_CardAllowingOnlyALabel_ApprovesItAndRefusesOtherCategoriesAndNone()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00", new { allowed_categories = new[] { "Office" } });

        await Client.ApproveAsync(cardId, "10.00", "OFFICE");
        await (await Client.AuthorizeAsync(cardId, "10.00", category: CardCalls.Grocery)).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");
        using var response = await Client.PostJsonAsync($"/v1/cards/{cardId}/authorizations", new { amount = "10.00", merchant_name = CardCalls.Merchant });
        var problem = await response.ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");

        Assert.Contains("names no merchant category", problem.Str("detail"), StringComparison.Ordinal);
        Assert.Equal(["OFFICE"], (await Client.GetCardAsync(cardId)).GetProperty("spending_controls").GetProperty("allowed_categories").EnumerateArray().Select(c => c.GetString()));
        await Client.AssertBalancesAsync(wallet, "100.00", "10.00", "90.00");
        await Client.AssertVerifiedAsync();
    }

    [Fact]
    public async Task Authorize_CategoryNotAllowed_Returns422CategoryBlocked()
    {
        var (wallet, cardId) = await Client.FundedCardAsync("100.00", new { allowed_categories = new[] { "grocery_stores_supermarkets", "5812" } });

        var problem = await (await Client.AuthorizeAsync(cardId, "10.00", category: "5999")).ExpectDeclinedAsync(Client, HttpStatusCode.UnprocessableEntity, "category_blocked");

        Assert.Equal("5999", (await Client.GetAuthorizationAsync(problem.Str("authorization_id"))).Str("merchant_category"));
        await Client.AssertBalancesAsync(wallet, "100.00", "0.00", "100.00");
        await Client.ApproveAsync(cardId, "10.00", "eating_places_restaurants");
        await Client.ApproveAsync(cardId, "10.00", CardCalls.Grocery);
        await Client.AssertVerifiedAsync();
    }
}
