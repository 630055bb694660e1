using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Wallet.Grains.Cards;

public sealed class CardOptions
{
    public const int NumberHashKeyLengthMin = 32;

    /// <summary>
    /// The secret of the card numbers' keyed hash. Changing it makes every stored hash unmatchable,
    /// so duplicates of cards issued before would no longer be found.
    /// </summary>
    public string? NumberHashKey { get; set; }

    /// <summary>How long an approved authorization holds its funds before it expires.</summary>
    public TimeSpan AuthorizationExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The time zone of the daily, weekly (from Monday) and monthly spending windows.</summary>
    public string SpendingTimeZone { get; set; } = "UTC";
}

/// <summary>
/// Card numbers: checked (digits, 12 to 19 of them, Luhn) and then forgotten. Only the last four
/// digits and an HMAC-SHA256 under a configured secret are kept, the hash for uniqueness.
/// </summary>
public sealed class CardNumbers(IOptions<CardOptions> options)
{
    private readonly byte[] _key = Encoding.UTF8.GetBytes(options.Value.NumberHashKey is { Length: >= CardOptions.NumberHashKeyLengthMin } key
        ? key
        : throw new InvalidOperationException(
            $"Cards:NumberHashKey must be set to a secret of at least {CardOptions.NumberHashKeyLengthMin} characters (env Cards__NumberHashKey)."));

    /// <summary>Null when <paramref name="number"/> may be a card number; otherwise why not (the number itself is never repeated).</summary>
    public static string? Check(string number)
    {
        if (number.Length is < 12 or > 19 || !number.All(char.IsAsciiDigit))
        {
            return "card_number must be 12 to 19 digits";
        }

        return PassesLuhn(number) ? null : "card_number fails the Luhn check";
    }

    public string Hash(string number) => Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(number)));

    public static string Masked(string last4) => "**** **** **** " + last4;

    private static bool PassesLuhn(string number)
    {
        var sum = 0;
        for (var i = 0; i < number.Length; i++)
        {
            var digit = number[number.Length - 1 - i] - '0';
            if (i % 2 == 1)
            {
                digit *= 2;
                if (digit > 9)
                {
                    digit -= 9;
                }
            }

            sum += digit;
        }

        return sum % 10 == 0;
    }
}
