using System.Collections.Concurrent;
using System.Collections.Frozen;
using Microsoft.Extensions.Configuration;
using Wallet.Grains.Money;
using Wallet.Grains.Storage;

namespace Wallet.Grains;

/// <summary>
/// The currencies and assets wallets may hold: ISO 4217, custom assets configured for every tenant
/// as <c>Currencies:Custom:GOLD = 3</c> (the code and its scale), and the custom assets each tenant
/// declares (<see cref="AssetStore"/>).
/// </summary>
public sealed class CurrencyCatalog
{
    public const int CodeLengthMin = 3;
    public const int CodeLengthMax = 12;

    private readonly FrozenDictionary<string, Currency> _currencies;
    private readonly AssetStore? _assets;

    // Declared assets never change, so one found stays true; one not found is asked for again.
    private readonly ConcurrentDictionary<(string TenantId, string Code), Currency> _declared = new();

    /// <summary>ISO 4217 and the configured assets only, without any tenant's declared ones.</summary>
    public CurrencyCatalog(IConfiguration configuration)
        : this(configuration, null)
    {
    }

    public CurrencyCatalog(IConfiguration configuration, AssetStore? assets)
    {
        var all = new Dictionary<string, Currency>(Iso4217.All, StringComparer.Ordinal);
        foreach (var custom in configuration.GetSection("Currencies:Custom").GetChildren())
        {
            var code = custom.Key.ToUpperInvariant();
            if (!int.TryParse(custom.Value, out var scale) || scale < 0 || scale > Amount.ScaleMax
                || code.Length is < CodeLengthMin or > CodeLengthMax || !code.All(char.IsAsciiLetterOrDigit))
            {
                throw new InvalidOperationException(
                    $"Currencies:Custom:{custom.Key} must be a code of 3 to 12 letters or digits with a scale from 0 to {Amount.ScaleMax}.");
            }

            all[code] = new Currency(code, scale);
        }

        _currencies = all.ToFrozenDictionary(StringComparer.Ordinal);
        Configured = [.. all.Values.Where(c => !Iso4217.All.ContainsKey(c.Code)).OrderBy(c => c.Code, StringComparer.Ordinal)
            .Select(c => new AssetView(c.Code, c.Scale, null, AssetView.Configured, null))];
        _assets = assets;
    }

    /// <summary>The custom assets configured for every tenant, by code.</summary>
    public IReadOnlyList<AssetView> Configured { get; }

    /// <summary>An ISO 4217 currency or a configured asset: the ones every tenant has.</summary>
    public bool TryGet(string? code, out Currency currency)
    {
        currency = null!;
        return code is not null && _currencies.TryGetValue(code, out currency!);
    }

    /// <summary>What <paramref name="tenantId"/> may hold as <paramref name="code"/>: every tenant's, or one it declared; null when neither.</summary>
    public async ValueTask<Currency?> FindAsync(string tenantId, string? code, CancellationToken cancellationToken = default)
    {
        if (TryGet(code, out var currency))
        {
            return currency;
        }

        if (code is null || !IsCode(code) || _assets is null)
        {
            return null;
        }

        if (_declared.TryGetValue((tenantId, code), out var declared))
        {
            return declared;
        }

        var asset = await _assets.FindAsync(tenantId, code, cancellationToken);
        return asset is null ? null : _declared.GetOrAdd((tenantId, code), asset.ToCurrency());
    }

    /// <summary>
    /// Refuses to go on when a configured asset has the code of one a tenant declared with another
    /// scale: the configured one wins the lookup, so that tenant's balances would be read at the
    /// wrong scale. (With the same scale the two mean the same amounts, and the configured one serves.)
    /// </summary>
    public async Task CheckDeclaredAssetsAsync(CancellationToken cancellationToken)
    {
        if (_assets is null || Configured.Count == 0)
        {
            return;
        }

        var clashes = await _assets.FindScaleClashesAsync(Configured, cancellationToken);
        if (clashes.Count > 0)
        {
            throw new InvalidOperationException(
                "A configured asset has the code of an asset a tenant declared, with another scale: "
                + string.Join("; ", clashes.Select(c => $"Currencies:Custom:{c.Code} is {_currencies[c.Code].Scale}, tenant '{c.TenantId}' declared {c.Code} with scale {c.Scale}"))
                + ". Configure the code with the declared scale, or configure another code.");
        }
    }

    /// <summary>The refusal of a currency this catalog does not know.</summary>
    public static LedgerFailure Unknown(string? code) =>
        new(LedgerErrors.UnknownCurrency, $"currency '{code}' is not an ISO 4217 code or an asset declared with POST /v1/assets");

    /// <summary>A code an asset may be declared as: 3 to 12 capital letters or digits, the first a letter.</summary>
    public static bool IsCode(string code) =>
        code.Length is >= CodeLengthMin and <= CodeLengthMax && char.IsAsciiLetterUpper(code[0]) && code.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c));
}
