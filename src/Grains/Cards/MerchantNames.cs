using System.Text;

namespace Wallet.Grains.Cards;

/// <summary>
/// Merchant names in the form card networks print them, so that one merchant's authorizations,
/// fraud rules and receipts name it alike: upper case, spaces collapsed, full stops and apostrophes
/// dropped and other punctuation read as a space ("Office Supplies Inc." and "office supplies, inc"
/// are both "OFFICE SUPPLIES INC"; "McDonald's" is "MCDONALDS"). Letters, digits and the symbols
/// names are made of (<c>&amp; - _ / + # @</c>) are kept. An authorization keeps the name as sent beside it.
/// </summary>
public static class MerchantNames
{
    private const string Dropped = ".'’‘`";
    private const string Separators = ",;:!?()[]{}<>*\"“”|\\";

    public static string Normalize(string sent)
    {
        var name = new StringBuilder(sent.Length);
        foreach (var c in sent)
        {
            if (char.IsWhiteSpace(c) || Separators.Contains(c, StringComparison.Ordinal))
            {
                if (name.Length > 0 && name[^1] != ' ')
                {
                    name.Append(' ');
                }
            }
            else if (!Dropped.Contains(c, StringComparison.Ordinal) && !char.IsControl(c))
            {
                name.Append(char.ToUpperInvariant(c));
            }
        }

        return name.ToString().TrimEnd();
    }

    /// <summary>True when <paramref name="normalized"/> names something: it has a letter or a digit.</summary>
    public static bool IsName(string normalized) => normalized.Any(char.IsLetterOrDigit);
}
