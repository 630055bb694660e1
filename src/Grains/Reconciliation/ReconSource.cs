namespace Wallet.Grains.Reconciliation;

/// <summary>
/// How a source's records read: which CSV column (or JSON field) holds each value, and how its
/// amounts and times are written. Only <see cref="ExternalId"/>, <see cref="Amount"/> and
/// <see cref="Timestamp"/> must be mapped; a source without a currency column names its currency.
/// </summary>
public sealed record ReconMapping(
    string ExternalId,
    string Amount,
    string? Currency,
    string Timestamp,
    string? Reference,
    string? Description,
    string AmountSign,
    string DecimalSeparator,
    string ThousandsSeparator,
    string? TimestampFormat,
    string TimeZone,
    string? CurrencyDefault,
    string Delimiter)
{
    /// <summary>A positive amount is money into the ledger account (a bank statement's credit).</summary>
    public const string CreditPositive = "credit_positive";

    /// <summary>A positive amount is money out of the ledger account (a processor's payout report, say).</summary>
    public const string DebitPositive = "debit_positive";

    public static IReadOnlyList<string> AmountSigns { get; } = [CreditPositive, DebitPositive];

    public static IReadOnlyList<string> DecimalSeparators { get; } = [".", ","];

    public static IReadOnlyList<string> ThousandsSeparators { get; } = ["", ",", ".", " ", "'"];

    public static IReadOnlyList<string> Delimiters { get; } = [",", ";", "\t", "|"];
}

/// <summary>
/// How near an external record and a ledger entry must be to match. An exact match has the same
/// amount and a time within <see cref="TimeWindowSeconds"/>; a fuzzy one may differ by up to
/// <see cref="Amount"/> and scores at least <see cref="FuzzyThreshold"/>.
/// </summary>
public sealed record ReconTolerances(string Amount, int TimeWindowSeconds, double FuzzyThreshold)
{
    public const string AmountDefault = "0.00";
    public const int TimeWindowSecondsDefault = 3 * 24 * 3600;
    public const int TimeWindowSecondsMax = 31 * 24 * 3600;
    public const double FuzzyThresholdDefault = 0.8;

    public static ReconTolerances Default { get; } = new(AmountDefault, TimeWindowSecondsDefault, FuzzyThresholdDefault);

    /// <summary>The amount tolerance in minor units of a currency of <paramref name="scale"/> (finer digits dropped: never looser than written).</summary>
    public long AmountMinorUnits(int scale) =>
        (long)decimal.Floor(decimal.Parse(Amount, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture) * Pow10(scale));

    private static decimal Pow10(int scale)
    {
        var power = 1m;
        for (var i = 0; i < scale; i++)
        {
            power *= 10;
        }

        return power;
    }
}

/// <summary>When a source runs by itself: a five-field cron expression read in <see cref="TimeZone"/>.</summary>
public sealed record ReconSchedule(string Cron, string TimeZone);

/// <summary>A reconciliation source as the API shows it.</summary>
public sealed record ReconSourceView(
    string Id,
    string Name,
    string LedgerAccount,
    string Format,
    ReconMapping Mapping,
    ReconTolerances Tolerances,
    string BadRows,
    ReconSchedule? Schedule,
    DateTimeOffset CreatedAt)
{
    public const string Csv = "csv";
    public const string Json = "json";

    /// <summary>A file with a bad row is refused whole: nothing of it is imported.</summary>
    public const string RefuseFile = "refuse_file";

    /// <summary>A bad row is reported and left out; the rest of the file is imported.</summary>
    public const string SkipRow = "skip_row";

    public static IReadOnlyList<string> Formats { get; } = [Csv, Json];

    public static IReadOnlyList<string> BadRowPolicies { get; } = [RefuseFile, SkipRow];
}

/// <summary>A row of a file (or a pushed record) that could not be read, with its line and why.</summary>
public sealed record BadRow(int Line, string Reason);

/// <summary>
/// What an import of external records did: how many rows it read, imported and found already
/// there (by external id), and the rows it could not read (the first <see cref="ReconOptions.BadRowsReportedMax"/>).
/// </summary>
public sealed record ReconImportView(
    string? Id,
    string SourceId,
    string? Name,
    string? Sha256,
    long? SizeBytes,
    int Rows,
    int Imported,
    int Duplicates,
    int BadRowCount,
    IReadOnlyList<BadRow> BadRows,
    DateTimeOffset CreatedAt);

/// <summary>An external record read and checked, ready to store.</summary>
public readonly record struct ExternalRecord(
    string ExternalId, long Amount, string Currency, DateTimeOffset OccurredAt, string? Reference, string? Description, int Line);
