using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using CsvHelper;

namespace Wallet.Grains.Reconciliation;

/// <summary>
/// A CSV file of external records read as it streams in, with CsvHelper: a header row, then one
/// record a row (quoted fields may hold the delimiter, quotes and line breaks). Columns are found by
/// their header, ignoring case and surrounding spaces. Its SHA-256 and size are taken as it is read;
/// a file larger than <see cref="ReconOptions.MaxFileBytes"/> is refused at the byte that crosses it.
/// </summary>
public sealed class CsvRecordFeed(Stream content, string? name, string delimiter, long maxBytes) : IRecordFeed
{
    private readonly CountingStream _counted = new(content, maxBytes);

    public string? Name { get; } = name;

    public string? Sha256 { get; private set; }

    public long? SizeBytes { get; private set; }

    public async IAsyncEnumerable<RawRecord> ReadAsync(ExternalRecordReader reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var counted = _counted; // the upload itself is the caller's to close
        var malformed = new Queue<CsvMalformedRecord>();
        var options = new CsvReaderOptions
        {
            Separator = delimiter[0],
            HasHeader = true,
            TrimWhitespace = true,
            TrackLineNumbers = true,
            MalformedData = CsvMalformedDataHandling.Skip,
            FieldCountMismatch = CsvFieldCountHandling.Skip,
            OnMalformedRecord = malformed.Enqueue,
            MaxRecordSize = RecordBytesMax,
        };
        await using var csv = CsvReader.Create(counted, options, leaveOpen: true);
        await Guard(csv.ReadHeaderAsync(cancellationToken));
        var header = csv.Headers;
        if (header.Count == 0 || header is [""])
        {
            throw new ReconFileException(LedgerErrors.FileUnreadable, "the file is empty: a CSV file starts with its header row");
        }

        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var column in reader.Mapped)
        {
            if (csv.TryGetFieldIndex(column, out var index))
            {
                columns[column] = index;
            }
        }

        var missing = reader.Required.Where(column => !columns.ContainsKey(column)).ToList();
        if (missing.Count > 0)
        {
            throw new ReconFileException(LedgerErrors.FileUnreadable,
                $"the header row has no column {string.Join(", ", missing.Select(m => $"'{m}'"))} that the source's mapping names (found: {Describe(header)})");
        }

        while (await Guard(csv.ReadAsync(cancellationToken)))
        {
            while (malformed.TryDequeue(out var skipped))
            {
                yield return Bad(skipped, header.Count);
            }

            yield return new RawRecord((int)csv.LineNumber, column => columns.TryGetValue(column, out var index) ? csv.GetString(index) : null);
        }

        while (malformed.TryDequeue(out var skipped))
        {
            yield return Bad(skipped, header.Count);
        }

        Sha256 = _counted.Sha256();
        SizeBytes = _counted.Length;
    }

    // A record longer than this (an unclosed quote running to the end of the file, say) makes the file unreadable.
    private const int RecordBytesMax = 1024 * 1024;

    private static RawRecord Bad(CsvMalformedRecord record, int headerFields) => new((int)record.LineNumber, _ => null)
    {
        Problem = record.Reason switch
        {
            CsvMalformedReason.FieldCountMismatch => $"the row does not have the header's {headerFields} fields",
            CsvMalformedReason.UnterminatedQuote => "a quoted field is never closed (malformed CSV)",
            _ => $"malformed CSV quoting ({record.Reason})",
        },
    };

    /// <summary>The reader's own refusal of the file (a record past the size limit) as the file's.</summary>
    private static async ValueTask<T> Guard<T>(ValueTask<T> read)
    {
        try
        {
            return await read;
        }
        catch (CsvFormatException malformed)
        {
            throw new ReconFileException(LedgerErrors.FileUnreadable, $"the file is not CSV this source can read: {malformed.Message}");
        }
    }

    private static async ValueTask Guard(ValueTask read)
    {
        try
        {
            await read;
        }
        catch (CsvFormatException malformed)
        {
            throw new ReconFileException(LedgerErrors.FileUnreadable, $"the file is not CSV this source can read: {malformed.Message}");
        }
    }

    private static string Describe(IReadOnlyList<string> header)
    {
        var names = string.Join(", ", header.Take(20).Select(h => $"'{(h.Length > 40 ? h[..40] + "…" : h)}'"));
        return header.Count > 20 ? names + ", …" : names;
    }

    /// <summary>A read-only pass over the upload that hashes what it reads and refuses to read past the limit.</summary>
    private sealed class CountingStream(Stream inner, long maxBytes) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _read;

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public string Sha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read;
            try
            {
                read = inner.Read(buffer, offset, count);
            }
            catch (InvalidDataException malformed)
            {
                throw Malformed(malformed);
            }

            return Counted(buffer.AsSpan(offset, read));
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read;
            try
            {
                read = await inner.ReadAsync(buffer, cancellationToken);
            }
            catch (InvalidDataException malformed)
            {
                throw Malformed(malformed);
            }

            return Counted(buffer.Span[..read]);
        }

        // The multipart body around the file is broken (a boundary missing, a part past its limit).
        private static ReconFileException Malformed(InvalidDataException malformed) =>
            new(LedgerErrors.FileUnreadable, $"the upload is malformed: {malformed.Message}");

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Counted(ReadOnlySpan<byte> read)
        {
            _read += read.Length;
            if (_read > maxBytes)
            {
                throw new ReconFileException(LedgerErrors.FileTooLarge,
                    $"the file is larger than {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (Reconciliation:MaxFileBytes)");
            }

            _hash.AppendData(read);
            return read.Length;
        }
    }
}
