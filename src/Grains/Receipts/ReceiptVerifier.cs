using System.Globalization;
using System.Text;
using FuzzySharp;
using Wallet.Grains.Cards;

namespace Wallet.Grains.Receipts;

/// <summary>The statuses of a receipt, and the reasons one is a mismatch.</summary>
public static class ReceiptStatuses
{
    /// <summary>Taken, and being read (or waiting to be).</summary>
    public const string Processing = "processing";

    /// <summary>Its total, date and merchant are those of its authorization.</summary>
    public const string Verified = "verified";

    /// <summary>Read, but not the authorization's: <c>reasons</c> says how.</summary>
    public const string Mismatch = "mismatch";

    /// <summary>Read, and no total, date or merchant found in it.</summary>
    public const string Unreadable = "unreadable";

    /// <summary>Its reading failed Receipts:AttemptsMax times: <c>error</c> says why. It can be retried.</summary>
    public const string Failed = "failed";

    public static IReadOnlyList<string> All { get; } = [Processing, Verified, Mismatch, Unreadable, Failed];

    public static bool IsFinal(string status) => status != Processing;
}

/// <summary>Why a receipt is a <see cref="ReceiptStatuses.Mismatch"/>.</summary>
public static class ReceiptReasons
{
    public const string AmountDiffers = "amount_differs";
    public const string AmountNotFound = "amount_not_found";
    public const string DateOutOfRange = "date_out_of_range";
    public const string DateNotFound = "date_not_found";
    public const string MerchantDiffers = "merchant_differs";
    public const string MerchantNotFound = "merchant_not_found";

    /// <summary>The receipt was uploaded for no authorization: there is nothing to verify it against.</summary>
    public const string NoAuthorization = "no_authorization";
}

/// <summary>A receipt's outcome: its final status, the reasons of a mismatch, and the merchant's similarity (0 to 100) when compared.</summary>
public sealed record ReceiptVerdict(string Status, IReadOnlyList<string> Reasons, int? MerchantSimilarity);

/// <summary>
/// Checks what was read from a receipt against its authorization. It is verified when the total
/// equals the amount authorized (or captured), the date is within Receipts:DateToleranceDays of
/// the authorization's (UTC) day, and the merchant resembles the authorization's merchant
/// (FuzzySharp's token-set ratio at least Receipts:MerchantSimilarityMin); otherwise a mismatch with
/// every reason that applies. A receipt with nothing read is unreadable.
/// </summary>
public static class ReceiptVerifier
{
    public static ReceiptVerdict Verify(ReceiptFields fields, AuthorizationView? authorization, ReceiptOptions options)
    {
        if (fields.IsEmpty)
        {
            return new ReceiptVerdict(ReceiptStatuses.Unreadable, [], null);
        }

        if (authorization is null)
        {
            return new ReceiptVerdict(ReceiptStatuses.Mismatch, [ReceiptReasons.NoAuthorization], null);
        }

        var reasons = new List<string>();
        if (fields.Total is not { } total)
        {
            reasons.Add(ReceiptReasons.AmountNotFound);
        }
        else if (!Amounts(authorization).Contains(decimal.Parse(total.Value, CultureInfo.InvariantCulture)))
        {
            reasons.Add(ReceiptReasons.AmountDiffers);
        }

        if (fields.Date is not { } date)
        {
            reasons.Add(ReceiptReasons.DateNotFound);
        }
        else if (Math.Abs(DateOnly.ParseExact(date.Value, "yyyy-MM-dd", CultureInfo.InvariantCulture).DayNumber - DayOf(authorization).DayNumber) > options.DateToleranceDays)
        {
            reasons.Add(ReceiptReasons.DateOutOfRange);
        }

        int? similarity = null;
        if (fields.Merchant is not { } merchant)
        {
            reasons.Add(ReceiptReasons.MerchantNotFound);
        }
        else
        {
            similarity = Similarity(merchant.Value, authorization);
            if (similarity < options.MerchantSimilarityMin)
            {
                reasons.Add(ReceiptReasons.MerchantDiffers);
            }
        }

        return new ReceiptVerdict(reasons.Count == 0 ? ReceiptStatuses.Verified : ReceiptStatuses.Mismatch, reasons, similarity);
    }

    /// <summary>The authorization's day, which a receipt's date is compared with.</summary>
    public static DateOnly DayOf(AuthorizationView authorization) => DateOnly.FromDateTime(authorization.CreatedAt.UtcDateTime);

    /// <summary>How alike, 0 to 100, a merchant read from a receipt is to the authorization's (its name as sent, or as normalized).</summary>
    public static int Similarity(string merchant, AuthorizationView authorization)
    {
        var read = Plain(merchant);
        return new[] { authorization.MerchantName, authorization.MerchantNameOriginal }
            .Where(name => !string.IsNullOrWhiteSpace(name))
            .Max(name => Fuzz.TokenSetRatio(read, Plain(name!)));
    }

    private static IEnumerable<decimal> Amounts(AuthorizationView authorization)
    {
        var amount = decimal.Parse(authorization.Amount, CultureInfo.InvariantCulture);
        var captured = decimal.Parse(authorization.Captured, CultureInfo.InvariantCulture);
        return captured > 0 ? [amount, captured] : [amount];
    }

    /// <summary>Upper case, letters and digits only, single spaces: "Corner Café, Inc." reads as "CORNER CAFÉ INC".</summary>
    private static string Plain(string name)
    {
        var plain = new StringBuilder(name.Length);
        foreach (var c in name.ToUpperInvariant())
        {
            plain.Append(char.IsLetterOrDigit(c) ? c : ' ');
        }

        return string.Join(' ', plain.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
