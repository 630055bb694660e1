using System.Globalization;
using System.Text;
using AnyAscii;
using FuzzySharp;

namespace Wallet.Grains.Compliance;

/// <summary>One name of a watchlist, as imported.</summary>
public sealed record WatchlistEntry(string List, int Line, string Name, IReadOnlyList<string> Aliases, DateOnly? DateOfBirth, string? Country);

/// <summary>An entry a screened name resembles, and how much (0 to 100).</summary>
public sealed record ScreeningHit(WatchlistEntry Entry, int Score);

public static class ScreeningStatuses
{
    public const string Clear = "clear";
    public const string PotentialMatch = "potential_match";
    public const string Match = "match";
}

/// <summary>
/// Whether a name is on a watchlist, tolerating what really happens to names: another script
/// (transliterated to Latin letters by AnyAscii: Иван is ivan), accents dropped or added, words in
/// another order, and small misspellings. Each of an entry's names (its name and its aliases) is
/// compared with FuzzySharp's token sort ratio, which sorts the words before it measures the edit
/// distance; the entry's score is the best. A date of birth or a country that both sides give and
/// that differ make a likeness no more than a potential match.
/// </summary>
public static class NameScreening
{
    /// <summary>How watchlists and requests write a date of birth: 1970-01-31.</summary>
    public const string DateFormat = "yyyy-MM-dd";

    public static bool TryParseDate(string text, out DateOnly date) =>
        DateOnly.TryParseExact(text, DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out date);

    /// <summary>Whether <paramref name="code"/> is a country as lists and requests give it: a two-letter ISO 3166 code, in capitals.</summary>
    public static bool IsCountry(string code) => code.Length == 2 && code.All(char.IsAsciiLetterUpper);

    /// <summary>Lower-case Latin letters and digits, one space between words.</summary>
    public static string Normalize(string name)
    {
        var latin = name.Transliterate().ToLowerInvariant();
        var text = new StringBuilder(latin.Length);
        foreach (var c in latin)
        {
            text.Append(char.IsAsciiLetterOrDigit(c) ? c : ' ');
        }

        return string.Join(' ', text.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    public static int Score(string name, WatchlistEntry entry)
    {
        var screened = Normalize(name);
        return screened.Length == 0 ? 0 : entry.Aliases.Prepend(entry.Name).Max(candidate => Fuzz.TokenSortRatio(screened, Normalize(candidate)));
    }

    /// <summary>The entries scoring <paramref name="potentialAt"/> or more, best first, and the screening's status.</summary>
    public static (string Status, IReadOnlyList<ScreeningHit> Hits) Screen(
        string name, string? country, DateOnly? dateOfBirth, IEnumerable<WatchlistEntry> entries, int potentialAt, int matchAt)
    {
        var hits = entries.Select(entry => new ScreeningHit(entry, Score(name, entry)))
            .Where(hit => hit.Score >= potentialAt)
            .OrderByDescending(hit => hit.Score).ThenBy(hit => hit.Entry.List, StringComparer.Ordinal).ThenBy(hit => hit.Entry.Line)
            .ToList();
        var status = hits.Count == 0 ? ScreeningStatuses.Clear
            : hits.Any(hit => hit.Score >= matchAt && !Differs(dateOfBirth, hit.Entry.DateOfBirth) && !Differs(country, hit.Entry.Country))
                ? ScreeningStatuses.Match
                : ScreeningStatuses.PotentialMatch;
        return (status, hits);
    }

    private static bool Differs<T>(T? ours, T? theirs) => ours is not null && theirs is not null && !EqualityComparer<T>.Default.Equals(ours, theirs);
}
