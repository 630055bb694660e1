using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Wallet.Grains.Ledger;

/// <summary>
/// The ledger's own meter, <c>Wallet.Ledger</c>: entries committed, group-commit batches, card
/// decisions with decline codes and fraud rules, and the money and verify figures read from the
/// database. OpenTelemetry exports it with Orleans' meters (<c>/metrics</c>, OTLP); the names a
/// user graphs are in the README's metrics table.
/// </summary>
public sealed class LedgerMetrics : IDisposable
{
    public const string MeterName = "Wallet.Ledger";

    // A commit normally takes a few milliseconds; the upper buckets catch a struggling database.
    private static readonly double[] CommitDurationBucketsSeconds = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

    // Reading a receipt takes from a few milliseconds (a PDF's text) to tens of seconds (a big photograph).
    private static readonly double[] ReceiptReadBucketsSeconds = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

    private readonly Meter _meter;
    private readonly Counter<long> _entries;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _failedBatches;
    private readonly Counter<long> _items;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _authorizations;
    private readonly Counter<long> _declines;
    private readonly Counter<long> _fraudRuleHits;
    private readonly Counter<long> _reviews;
    private readonly Counter<long> _aborts;
    private readonly Counter<long> _inDoubt;
    private readonly Counter<long> _receipts;
    private readonly Histogram<double> _receiptReadDuration;
    private volatile IReadOnlyList<CurrencyTotals> _totals = [];
    private volatile VerifyRun? _lastVerify;

    public LedgerMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _entries = _meter.CreateCounter<long>("wallet.ledger.entries", "{entry}", "Ledger entries this silo committed.");
        _batches = _meter.CreateCounter<long>("wallet.commit.batches", "{batch}", "Group-commit transactions attempted.");
        _failedBatches = _meter.CreateCounter<long>("wallet.commit.failed_batches", "{batch}", "Group-commit transactions that failed; every turn in them failed as retryable.");
        _items = _meter.CreateCounter<long>("wallet.commit.items", "{item}", "Movements carried by group commits (divided by batches: the average batch).");
        _commitDuration = _meter.CreateHistogram<double>("wallet.commit.duration", "s", "How long one group-commit transaction took.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitDurationBucketsSeconds });
        _authorizations = _meter.CreateCounter<long>("wallet.card.authorizations", "{authorization}", "Card authorizations this silo decided, by decision.");
        _declines = _meter.CreateCounter<long>("wallet.card.declines", "{authorization}", "Declined card authorizations, by problem code.");
        _fraudRuleHits = _meter.CreateCounter<long>("wallet.card.fraud_rule_hits", "{hit}", "Fraud rules that fired on card authorizations, by rule.");
        _reviews = _meter.CreateCounter<long>("wallet.card.reviews", "{authorization}", "Card authorizations flagged for review.");
        _aborts = _meter.CreateCounter<long>("wallet.transactions.aborted", "{transaction}",
            "Movement transactions Orleans aborted (a broken lock, a cascading abort, a timeout), by what followed: retried, or given up and answered 503.");
        _inDoubt = _meter.CreateCounter<long>("wallet.transactions.in_doubt", "{transaction}",
            "Movement transactions whose outcome was not heard, by whether finding their entry resolved them.");
        _receipts = _meter.CreateCounter<long>("wallet.receipts.read", "{receipt}",
            "Receipts this silo finished reading, by outcome: verified, mismatch, unreadable, or failed (its reading failed every attempt).");
        _receiptReadDuration = _meter.CreateHistogram<double>("wallet.receipts.ocr.duration", "s",
            "How long reading one receipt took (OCR, or its PDF's text), waiting for a slot not included.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ReceiptReadBucketsSeconds });
        // Exported from the start at zero, so a graph of failures has a series before the first one.
        _failedBatches.Add(0);
        _reviews.Add(0);
        _aborts.Add(0, new KeyValuePair<string, object?>("outcome", "retried"));
        _aborts.Add(0, new KeyValuePair<string, object?>("outcome", "gave_up"));
        _inDoubt.Add(0, new KeyValuePair<string, object?>("resolved", true));
        _inDoubt.Add(0, new KeyValuePair<string, object?>("resolved", false));
        foreach (var outcome in (string[])["verified", "mismatch", "unreadable", "failed"])
        {
            _receipts.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }
        _meter.CreateObservableGauge("wallet.money.issued", () => Money(t => t.Issued), "{major_unit}", "Money the treasury has issued, in the major unit.");
        _meter.CreateObservableGauge("wallet.money.held_by_users", () => Money(t => t.HeldByUsers), "{major_unit}", "Money in user wallets, pending included.");
        _meter.CreateObservableGauge("wallet.money.pending_in_holds", () => Money(t => t.PendingInHolds), "{major_unit}", "Money of user wallets held for open holds.");
        _meter.CreateObservableGauge("wallet.money.in_system_accounts", () => Money(t => t.InSystemAccounts), "{major_unit}", "Money in revenue, fees, settlement and the other system accounts.");
        _meter.CreateObservableGauge("wallet.ledger.last_verify.ok", LastVerifyOk, "1", "1 when the last verify (by any process) found no problem, else 0; absent before the first.");
        _meter.CreateObservableGauge("wallet.ledger.last_verify.timestamp", LastVerifyAt, "s", "When the last verify ran, in Unix seconds.");
    }

    public void RecordEntries(int count) => _entries.Add(count);

    public void RecordCommit(int items, TimeSpan elapsed, bool failed)
    {
        _batches.Add(1);
        _items.Add(items);
        _commitDuration.Record(elapsed.TotalSeconds);
        if (failed)
        {
            _failedBatches.Add(1);
        }
    }

    /// <summary>An aborted movement transaction: run again (<paramref name="retried"/>), or given up.</summary>
    public void RecordAbort(bool retried) =>
        _aborts.Add(1, new KeyValuePair<string, object?>("outcome", retried ? "retried" : "gave_up"));

    /// <summary>A movement transaction in doubt, <paramref name="resolved"/> when its entry was found.</summary>
    public void RecordInDoubt(bool resolved) => _inDoubt.Add(1, new KeyValuePair<string, object?>("resolved", resolved));

    /// <summary>A decision answered to a client: approved, or declined with its code.</summary>
    public void RecordAuthorization(string? declineCode, bool review, IReadOnlyList<string> fraudRules)
    {
        _authorizations.Add(1, new KeyValuePair<string, object?>("decision", declineCode is null ? "approved" : "declined"));
        if (declineCode is not null)
        {
            _declines.Add(1, new KeyValuePair<string, object?>("code", declineCode));
        }

        if (review)
        {
            _reviews.Add(1);
        }

        foreach (var rule in fraudRules)
        {
            _fraudRuleHits.Add(1, new KeyValuePair<string, object?>("rule", rule));
        }
    }

    /// <summary>A receipt read to its final <paramref name="outcome"/>; <paramref name="reading"/> is how long its last reading took (none when it failed).</summary>
    public void ReceiptRead(string outcome, TimeSpan? reading)
    {
        _receipts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        if (reading is { } elapsed)
        {
            _receiptReadDuration.Record(elapsed.TotalSeconds);
        }
    }

    /// <summary>What the database-backed gauges report until the next update (done before each scrape).</summary>
    public void UpdateLedgerFigures(IReadOnlyList<CurrencyTotals> totals, VerifyRun? lastVerify)
    {
        _totals = totals;
        _lastVerify = lastVerify;
    }

    public void Dispose() => _meter.Dispose();

    // A gauge for people and dashboards: double is what exporters carry (the ledger's exact figures are in the database).
    private IEnumerable<Measurement<double>> Money(Func<CurrencyTotals, string> figure) =>
        _totals.Select(t => new Measurement<double>(
            double.Parse(figure(t), System.Globalization.CultureInfo.InvariantCulture), new KeyValuePair<string, object?>("currency", t.Currency)));

    private IEnumerable<Measurement<int>> LastVerifyOk() =>
        _lastVerify is { } run ? [new Measurement<int>(run.Ok ? 1 : 0)] : [];

    private IEnumerable<Measurement<double>> LastVerifyAt() =>
        _lastVerify is { } run ? [new Measurement<double>(run.RanAt.ToUnixTimeMilliseconds() / 1000.0)] : [];
}
