using System.Collections.Frozen;
using Orleans;

namespace Wallet.Grains.Money;

/// <summary>A currency or asset code with its scale: the number of decimals of its minor unit.</summary>
[GenerateSerializer, Immutable, Alias("wallet.Currency")]
public sealed record Currency(string Code, int Scale)
{
    public override string ToString() => Code;
}

/// <summary>ISO 4217 currencies in current use, with their minor-unit scales.</summary>
public static class Iso4217
{
    // Scale 0 and 3 are the exceptions; every other listed code has 2 decimals.
    private static readonly string[] ScaleZero =
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"];

    private static readonly string[] ScaleThree = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

    private static readonly string[] ScaleTwo =
    [
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
        "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
        "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
        "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
        "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
        "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
        "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
        "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UZS", "VES", "WST", "XCD", "YER",
        "ZAR", "ZMW", "ZWG",
    ];

    public static FrozenDictionary<string, Currency> All { get; } =
        ScaleZero.Select(c => new Currency(c, 0))
            .Concat(ScaleTwo.Select(c => new Currency(c, 2)))
            .Concat(ScaleThree.Select(c => new Currency(c, 3)))
            .ToFrozenDictionary(c => c.Code, StringComparer.Ordinal);
}
