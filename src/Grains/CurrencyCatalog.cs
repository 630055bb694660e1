using System.Collections.Frozen;
using Microsoft.Extensions.Configuration;
using Wallet.Grains.Money;

namespace Wallet.Grains;

/// <summary>
/// The currencies wallets may hold: ISO 4217, plus custom assets declared in configuration as
/// <c>Currencies:Custom:GOLD = 3</c> (the code and its scale).
/// </summary>
public sealed class CurrencyCatalog
{
    private readonly FrozenDictionary<string, Currency> _currencies;

    public CurrencyCatalog(IConfiguration configuration)
    {
        var all = new Dictionary<string, Currency>(Iso4217.All, StringComparer.Ordinal);
        foreach (var custom in configuration.GetSection("Currencies:Custom").GetChildren())
        {
            var code = custom.Key.ToUpperInvariant();
            if (!int.TryParse(custom.Value, out var scale) || scale < 0 || scale > Amount.ScaleMax || !IsCode(code))
            {
                throw new InvalidOperationException(
                    $"Currencies:Custom:{custom.Key} must be a code of 3 to 12 letters or digits with a scale from 0 to {Amount.ScaleMax}.");
            }

            all[code] = new Currency(code, scale);
        }

        _currencies = all.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public bool TryGet(string? code, out Currency currency)
    {
        currency = null!;
        return code is not null && _currencies.TryGetValue(code, out currency!);
    }

    /// <summary>The refusal of a currency this catalog does not know.</summary>
    public static LedgerFailure Unknown(string? code) =>
        new(LedgerErrors.UnknownCurrency, $"currency '{code}' is not an ISO 4217 code or a configured asset");

    private static bool IsCode(string code) => code.Length is >= 3 and <= 12 && code.All(char.IsAsciiLetterOrDigit);
}
