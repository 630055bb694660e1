using System.Globalization;
using System.Text;
using FuzzySharp;
using Wallet.Grains.Money;

namespace Wallet.Grains.Reconciliation;

/// <summary>One side of a candidate pair: an external record (keyed by its external id) or a ledger entry (by its id).</summary>
public readonly record struct ReconSide(string Key, long Amount, DateTimeOffset At, string? Reference, string? Description);

/// <summary>
/// How alike an external record and a ledger entry are, once they pass the tolerances (same
/// currency, amounts at most <c>tolerances.amount</c> apart, times at most
/// <c>time_window_seconds</c> apart): a score in [0, 1], the weighted mean of
/// <list type="bullet">
/// <item><b>reference</b> (weight <see cref="ReferenceWeight"/>): the best similarity of the record's
/// reference or external id with the entry's reference or id, compared in capitals without
/// punctuation or spaces (FuzzySharp's ratio);</item>
/// <item><b>amount</b> (<see cref="AmountWeight"/>): 1 when equal, falling to ½ at the tolerance;</item>
/// <item><b>time</b> (<see cref="TimeWeight"/>): 1 at the same instant, falling to ½ at the window's edge;</item>
/// <item><b>description</b> (<see cref="DescriptionWeight"/>): counted only when both sides have one
/// and it raises the score (a bank's wording rarely repeats the ledger's).</item>
/// </list>
/// A pair with the same reference thus scores at least 0.805 anywhere inside the tolerances, above
/// the default threshold of 0.8; a pair whose references have nothing in common scores at most 0.45.
/// </summary>
public static class ReconScore
{
    public const double ReferenceWeight = 0.55;
    public const double AmountWeight = 0.20;
    public const double TimeWeight = 0.15;
    public const double DescriptionWeight = 0.10;

    /// <summary>The score of a pair inside the tolerances (<paramref name="amountTolerance"/> in minor units).</summary>
    public static double Of(in ReconSide record, in ReconSide entry, long amountTolerance, int windowSeconds)
    {
        var amount = amountTolerance == 0 ? 1 : 1 - (0.5 * Math.Min(1, Math.Abs((double)record.Amount - entry.Amount) / amountTolerance));
        var time = windowSeconds == 0 ? 1 : 1 - (0.5 * Math.Min(1, Math.Abs((record.At - entry.At).TotalSeconds) / windowSeconds));
        var known = (ReferenceWeight * ReferenceSimilarity(record, entry)) + (AmountWeight * amount) + (TimeWeight * time);
        var weights = ReferenceWeight + AmountWeight + TimeWeight;
        var score = known / weights;
        if (!string.IsNullOrWhiteSpace(record.Description) && !string.IsNullOrWhiteSpace(entry.Description))
        {
            score = Math.Max(score, (known + (DescriptionWeight * Similarity(record.Description, entry.Description))) / (weights + DescriptionWeight));
        }

        return Math.Round(score, 4);
    }

    /// <summary>The best similarity of the record's reference or external id with the entry's reference or id.</summary>
    public static double ReferenceSimilarity(in ReconSide record, in ReconSide entry)
    {
        var best = Math.Max(Similarity(record.Key, entry.Key), Similarity(record.Key, entry.Reference));
        return Math.Max(best, Math.Max(Similarity(record.Reference, entry.Key), Similarity(record.Reference, entry.Reference)));
    }

    /// <summary>FuzzySharp's ratio of two texts in capitals without punctuation or spaces, in [0, 1]; 0 when either is empty.</summary>
    public static double Similarity(string? a, string? b)
    {
        var left = Plain(a);
        var right = Plain(b);
        if (left.Length == 0 || right.Length == 0)
        {
            return 0;
        }

        return left == right ? 1 : Fuzz.Ratio(left, right) / 100.0;
    }

    /// <summary>
    /// The reasons a matched pair differs: amount, time, reference (unless one side carries the
    /// other's reference or id as it is), description (when both have one and they differ).
    /// </summary>
    public static List<string> Differences(in ReconSide record, in ReconSide entry, int scale)
    {
        var reasons = new List<string>();
        if (record.Amount != entry.Amount)
        {
            reasons.Add($"amount: {Amount.Format(record.Amount, scale)} in the record, {Amount.Format(entry.Amount, scale)} in the ledger");
        }

        if (Math.Abs((record.At - entry.At).TotalSeconds) >= 60)
        {
            reasons.Add(TimeApart(record.At, entry.At));
        }

        var sameReference = (record.Reference ?? record.Key) is { } said && (said == entry.Reference || said == entry.Key || record.Key == entry.Reference);
        if (!sameReference)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"reference: '{record.Reference ?? record.Key}' in the record, '{entry.Reference ?? entry.Key}' in the ledger (similarity {ReferenceSimilarity(record, entry):0.00})"));
        }

        if (!string.IsNullOrWhiteSpace(record.Description) && !string.IsNullOrWhiteSpace(entry.Description) && record.Description != entry.Description)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"description: '{record.Description}' in the record, '{entry.Description}' in the ledger (similarity {Similarity(record.Description, entry.Description):0.00})"));
        }

        return reasons;
    }

    /// <summary>How far apart two times are, in whole hours and minutes (the run's SQL words exact pairs the same way); said from a minute apart.</summary>
    public static string TimeApart(DateTimeOffset a, DateTimeOffset b)
    {
        var seconds = (long)Math.Abs((a - b).TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture, $"time: {seconds / 3600} h {seconds % 3600 / 60} min apart");
    }

    private static string Plain(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        var plain = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                plain.Append(char.ToUpperInvariant(c));
            }
        }

        return plain.ToString();
    }
}
