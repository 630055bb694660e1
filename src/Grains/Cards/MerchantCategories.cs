using System.Collections.Frozen;

namespace Wallet.Grains.Cards;

/// <summary>
/// Merchant category codes (ISO 18245) and the names card issuers give them, and the labels
/// merchants and card programmes use instead (<c>OFFICE</c>, <c>MISC</c>). A four-digit code is
/// kept as sent, a known name stands for its code, and any other text is a label, kept in upper
/// case with its spaces collapsed. Authorizations, spending controls and fraud rules all name
/// categories this way, so a control on <c>OFFICE</c> matches an authorization sent as <c>office</c>.
/// </summary>
public static class MerchantCategories
{
    private static readonly (string Code, string Name)[] Known =
    [
        ("4111", "transportation_suburban_and_local_commuter_passenger"),
        ("4121", "taxicabs_limousines"),
        ("4131", "bus_lines"),
        ("4511", "airlines_air_carriers"),
        ("4722", "travel_agencies_tour_operators"),
        ("4812", "telecommunication_equipment_and_telephone_sales"),
        ("4814", "telecommunication_services"),
        ("4899", "cable_satellite_and_other_pay_television_and_radio"),
        ("4900", "utilities"),
        ("5045", "computers_peripherals_and_software"),
        ("5111", "stationary_office_supplies_printing_and_writing_paper"),
        ("5200", "home_supply_warehouse_stores"),
        ("5311", "department_stores"),
        ("5411", "grocery_stores_supermarkets"),
        ("5499", "miscellaneous_food_stores"),
        ("5541", "service_stations"),
        ("5542", "automated_fuel_dispensers"),
        ("5691", "mens_and_womens_clothing_stores"),
        ("5732", "electronics_stores"),
        ("5734", "computer_software_stores"),
        ("5812", "eating_places_restaurants"),
        ("5813", "drinking_places"),
        ("5814", "fast_food_restaurants"),
        ("5912", "drug_stores_and_pharmacies"),
        ("5921", "package_stores_beer_wine_and_liquor"),
        ("5942", "book_stores"),
        ("5943", "stationery_stores_office_and_school_supply_stores"),
        ("5944", "jewelry_stores_watches_clocks_and_silverware_stores"),
        ("5993", "cigar_stores_and_stands"),
        ("5999", "miscellaneous_and_specialty_retail_stores"),
        ("6010", "financial_institutions_manual_cash"),
        ("6011", "automated_cash_disburse"),
        ("6051", "non_fi_money_orders"),
        ("6540", "non_fi_stored_value_card_purchase_load"),
        ("7011", "hotels_motels_and_resorts"),
        ("7273", "dating_escort_services"),
        ("7372", "computer_programming"),
        ("7399", "business_services"),
        ("7512", "car_rental_agencies"),
        ("7523", "parking_lots_garages"),
        ("7995", "betting_casino_gambling"),
        ("8011", "doctors"),
        ("8062", "hospitals"),
        ("8111", "legal_services_attorneys"),
        ("8398", "charitable_and_social_service_organizations_fundraising"),
        ("8999", "professional_services"),
        ("9311", "tax_payments"),
        ("9399", "government_services"),
    ];

    private static readonly FrozenDictionary<string, string> NameByCode = Known.ToFrozenDictionary(k => k.Code, k => k.Name);

    private static readonly FrozenDictionary<string, string> CodeByName = Known.ToFrozenDictionary(k => k.Name, k => k.Code);

    public static IReadOnlyCollection<string> Names => CodeByName.Keys;

    /// <summary>Why a category cannot be taken, for a validation problem.</summary>
    public const string Invalid = "must be a four-digit merchant category code, a known category name, or a label with a letter and no control characters";

    /// <summary>
    /// The category as it is kept and compared: its code ("5411" for "5411" and for
    /// "grocery_stores_supermarkets"), or a label in upper case ("OFFICE SUPPLIES" for
    /// " office  supplies"). False when it is blank, holds control characters, or is digits that
    /// are not a four-digit code (a mistyped code is not a label).
    /// </summary>
    public static bool TryNormalize(string category, out string normalized)
    {
        var words = category.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var text = string.Join(' ', words);
        if (text.Length == 0 || text.Any(char.IsControl))
        {
            normalized = "";
            return false;
        }

        if (IsCode(text))
        {
            normalized = text;
            return true;
        }

        if (CodeByName.TryGetValue(text.ToLowerInvariant(), out var code))
        {
            normalized = code;
            return true;
        }

        normalized = text.ToUpperInvariant();
        return text.Any(char.IsLetter);
    }

    /// <summary>"5411 (grocery_stores_supermarkets)", the code alone when it has no known name, or the label.</summary>
    public static string Describe(string category) => NameByCode.TryGetValue(category, out var name) ? $"{category} ({name})" : category;

    private static bool IsCode(string text) => text.Length == 4 && text.All(char.IsAsciiDigit);
}
