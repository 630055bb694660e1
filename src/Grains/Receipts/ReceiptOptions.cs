namespace Wallet.Grains.Receipts;

/// <summary>The <c>Receipts</c> settings: what an upload may be, and how receipts are read and checked.</summary>
public sealed class ReceiptOptions
{
    public const int MaxBytesLimit = 100 * 1024 * 1024;

    /// <summary>The largest receipt file taken, in bytes (10 MiB; at most 100 MiB).</summary>
    public int MaxBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>
    /// How many receipts one silo reads at a time. OCR takes a core while it runs; one on two cores
    /// leaves the other to card authorizations.
    /// </summary>
    public int OcrConcurrencyMax { get; set; } = 1;

    /// <summary>
    /// The least share of the time, above 0 and at most 1, that a silo's receipt readings run while
    /// card authorizations keep it busy (they are held while one is handled; see
    /// <see cref="ReadingYield"/>). 0.01: held for 4.95 s at most, then run for 50 ms. 1: never held.
    /// Each share given costs the authorizations that arrive meanwhile; at 0.05 the p99 of a 2-core
    /// silo's authorizations at 300/s came out 2.0× its idle p99.
    /// </summary>
    public double ReadingShareMin { get; set; } = 0.01;

    /// <summary>How many days a receipt's date may be from its authorization's and still verify.</summary>
    public int DateToleranceDays { get; set; } = 3;

    /// <summary>
    /// How alike, from 0 to 100, the merchant read from a receipt and the authorization's merchant
    /// must be (FuzzySharp's token-set ratio of the two names, upper-cased and without punctuation).
    /// </summary>
    public int MerchantSimilarityMin { get; set; } = 70;

    /// <summary>
    /// The period of a receipt's reminder: how soon a reading that did not finish (the silo died, the
    /// database was away) starts again. Below Orleans' one minute only for tests.
    /// </summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many readings a receipt may begin (each one failed or cut short by its silo's death) before it is <c>failed</c>.</summary>
    public int AttemptsMax { get; set; } = 3;

    /// <summary>
    /// The most CPU time one run of an OCR or PDF tool may use before it is stopped and its reading
    /// failed; its wall-clock time, less the time readings were held for card authorizations, may be
    /// ten times this (it runs only on CPU nothing else wants).
    /// </summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Debian's tesseract-ocr (<c>tesseract</c>): a name looked up on PATH, or a path.</summary>
    public string TesseractPath { get; set; } = "tesseract";

    /// <summary>Poppler's <c>pdftotext</c> (Debian's poppler-utils), which reads a PDF's text layer.</summary>
    public string PdfToTextPath { get; set; } = "pdftotext";

    /// <summary>Poppler's <c>pdftoppm</c>, which renders the first page of a PDF without text for OCR.</summary>
    public string PdfToPpmPath { get; set; } = "pdftoppm";
}
