using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace Wallet.Grains.Receipts;

/// <summary>
/// Reads a receipt's text: a PDF's text layer with Poppler's <c>pdftotext</c>, and pictures (or a
/// PDF page with no text) with Debian's tesseract-ocr. Both run as child processes, one thread each,
/// on CPU time nothing else wants (SCHED_IDLE), stopped after <see cref="ReceiptOptions.ReadTimeout"/>: a hostile file can take nothing down but
/// its own reading. At most <see cref="ReceiptOptions.OcrConcurrencyMax"/> readings run at a time
/// on a silo; the rest wait their turn. Readings are held while card authorizations are handled
/// on the silo (<see cref="ReadingYield"/>).
/// </summary>
public sealed partial class ReceiptReader : IDisposable
{

    // A reading's wall-clock limit, in Receipts:ReadTimeouts (its CPU time is limited to one), and how often its CPU time is read.
    private const int WallClockTimeoutFactor = 10;
    private static readonly TimeSpan CpuCheckPeriod = TimeSpan.FromMilliseconds(250);

    // Linux's SCHED_IDLE: run only on CPU time nothing else wants; and the lowest nice value.
    private const int IdleScheduling = 5;
    private const int LowestNice = 19;

    // The pages of a PDF whose text is read (a receipt or an invoice has a page or two), and the most
    // a tool may write: a hostile file cannot fill the silo's memory through them.
    private const string PdfPagesMax = "5";
    private const int OutputCharactersMax = 1_000_000;

    // A PDF whose text layer has fewer letters and digits than this is a scan: its page is OCR'd.
    private const int TextLayerCharactersMin = 8;

    private readonly ReceiptOptions _options;
    private readonly ILogger<ReceiptReader> _logger;
    private readonly ReadingYield _yield;
    private readonly SemaphoreSlim _slots;

    public ReceiptReader(IOptions<ReceiptOptions> options, ILogger<ReceiptReader> logger, ReadingYield yield)
    {
        _options = options.Value;
        _logger = logger;
        _yield = yield;
        _slots = new SemaphoreSlim(_options.OcrConcurrencyMax);
    }

    /// <summary>
    /// One of the silo's <see cref="ReceiptOptions.OcrConcurrencyMax"/> reading slots, once free:
    /// taken before a receipt is even loaded, so a queue of receipts holds neither files nor slots,
    /// and released by disposing it.
    /// </summary>
    public async Task<IDisposable> WaitForSlotAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        return new Slot(_slots);
    }

    /// <summary>The text of <paramref name="content"/>, a receipt of type <paramref name="contentType"/>, read in a slot the caller holds.</summary>
    public async Task<ReceiptText> ReadAsync(string contentType, byte[] content, CancellationToken cancellationToken)
    {
        DirectoryInfo? directory = null;
        try
        {
            directory = WorkDirectory();
            var started = Stopwatch.GetTimestamp();
            var (lines, source) = contentType == ReceiptContentTypes.Pdf
                ? await ReadPdfAsync(content, directory.FullName, cancellationToken)
                : (await OcrAsync(await PrepareAsync(content, cancellationToken), "pgm", directory.FullName, cancellationToken), ReceiptText.Ocr);
            return new ReceiptText(lines, source, Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            try
            {
                directory?.Delete(recursive: true);
            }
            catch (IOException e)
            {
                _logger.LogWarning(e, "Could not remove the receipt work directory {Directory}", directory!.FullName);
            }
        }
    }

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>
    /// A fresh folder for one reading's files, readable by the silo's user alone (receipts are the
    /// tenants'), in memory (/dev/shm) where there is one: files that live a second need no disk
    /// writes beside the database's.
    /// </summary>
    private static DirectoryInfo WorkDirectory()
    {
        const string Memory = "/dev/shm";
        if (!OperatingSystem.IsWindows() && Directory.Exists(Memory))
        {
            try
            {
                return Directory.CreateDirectory(
                    Path.Combine(Memory, $"wallet-receipt-{Guid.NewGuid():N}"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not writable here: the temporary folder (also the user's alone).
            }
        }

        return Directory.CreateTempSubdirectory("wallet-receipt-");
    }

    private async Task<(IReadOnlyList<ReceiptLine> Lines, string Source)> ReadPdfAsync(byte[] content, string directory, CancellationToken cancellationToken)
    {
        var pdf = Path.Combine(directory, "receipt.pdf");
        await File.WriteAllBytesAsync(pdf, content, cancellationToken);
        var text = await RunAsync(_options.PdfToTextPath, ["-layout", "-enc", "UTF-8", "-l", PdfPagesMax, "-q", pdf, "-"], cancellationToken);
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).Select(l => new ReceiptLine(CollapseSpaces(Printable(l)), 1.0)).Where(l => l.Text.Length > 0).ToList();
        if (lines.Sum(l => l.Text.Count(char.IsLetterOrDigit)) >= TextLayerCharactersMin)
        {
            return (lines, ReceiptText.TextLayer);
        }

        // A scanned receipt: its first page, rendered at 300 dpi in grey.
        var page = Path.Combine(directory, "page");
        await RunAsync(_options.PdfToPpmPath,
            ["-r", "300", "-scale-to", ReceiptPicture.LongSideMax.ToString(CultureInfo.InvariantCulture), "-gray", "-png", "-f", "1", "-l", "1", "-singlefile", "-q", pdf, page],
            cancellationToken);
        return (await OcrAsync(await File.ReadAllBytesAsync(page + ".png", cancellationToken), "png", directory, cancellationToken), ReceiptText.Ocr);
    }

    private async Task<IReadOnlyList<ReceiptLine>> OcrAsync(byte[] content, string extension, string directory, CancellationToken cancellationToken)
    {
        var picture = Path.Combine(directory, "receipt." + extension);
        await File.WriteAllBytesAsync(picture, content, cancellationToken);
        var tsv = await RunAsync(_options.TesseractPath, [picture, "stdout", "-l", "eng", "--psm", "4", "tsv"], cancellationToken);
        return TesseractTsv.Lines(tsv);
    }

    /// <summary>
    /// <see cref="ReceiptPicture.Prepare"/> on a thread of its own at the lowest priority (nice 19): preparing a
    /// picture is the one part of a reading done in the silo's process, and it should not take CPU
    /// from card authorizations either. Not SCHED_IDLE as the tools are: a thread running .NET code
    /// must still reach a safe point promptly when the runtime stops every thread for a collection.
    /// It waits between its steps while readings are held.
    /// </summary>
    private Task<byte[]> PrepareAsync(byte[] content, CancellationToken cancellationToken)
    {
        var prepared = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                if (OperatingSystem.IsLinux())
                {
                    // On Linux a nice value is the thread's own: 0 as who is the calling thread.
                    _ = SetPriority(0, 0, LowestNice);
                }

                prepared.SetResult(ReceiptPicture.Prepare(content, () => _yield.WaitWhileHeld(cancellationToken)));
            }
            catch (Exception e)
            {
                prepared.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "receipt picture",
        };
        thread.Start();
        return prepared.Task;
    }

    /// <summary>
    /// Lets a process run only when no other work wants the CPU (SCHED_IDLE, which needs no
    /// privilege): OCR takes what card authorizations leave, and yields at once when one arrives.
    /// Where that is refused, it runs at nice 10.
    /// </summary>
    private static void ScheduleWhenIdle(int id)
    {
        var priority = 0;
        if (SetScheduler(id, IdleScheduling, ref priority) != 0)
        {
            _ = SetPriority(0, id, 10);
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SetScheduler(int id, int policy, ref int priority);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    /// <summary>Runs a tool with one thread, scheduled only on idle CPU and held with the readings; its standard output, or the reason it failed.</summary>
    private async Task<string> RunAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OMP_THREAD_LIMIT"] = "1";
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new ReceiptReadException($"{tool} could not be started ({e.Message}); install it (Debian: tesseract-ocr, poppler-utils) or set Receipts:{ToolSetting(tool)}", e);
        }

        if (OperatingSystem.IsLinux())
        {
            // Its first instants (loading its libraries) at normal priority; an ended one is refused, harmlessly.
            ScheduleWhenIdle(process.Id);
        }

        using var held = _yield.Track(process);

        // Its CPU time is what is limited: scheduled only on idle CPU, a reading may wait long on a
        // busy silo without being at fault. Its wall-clock time is limited too, far more loosely, and
        // without the time it was held for card authorizations.
        var running = _yield.StartRunningWatch();
        var wallMax = _options.ReadTimeout * WallClockTimeoutFactor;
        var output = ReadCappedAsync(process, process.StandardOutput, cancellationToken);
        var errors = ReadCappedAsync(process, process.StandardError, cancellationToken);
        var name = Path.GetFileName(tool);
        try
        {
            var exited = process.WaitForExitAsync(cancellationToken);
            while (await Task.WhenAny(exited, Task.Delay(CpuCheckPeriod, CancellationToken.None)) != exited)
            {
                if (CpuTime(process) > _options.ReadTimeout)
                {
                    process.Kill(entireProcessTree: true);
                    throw new ReceiptReadException($"{name} used more than {Seconds(_options.ReadTimeout)} s of CPU (Receipts:ReadTimeout) and was stopped");
                }

                if (running.Elapsed > wallMax)
                {
                    process.Kill(entireProcessTree: true);
                    throw new ReceiptReadException($"{name} ran longer than {Seconds(wallMax)} s and was stopped");
                }
            }

            await exited;
            var text = await output;
            if (process.ExitCode != 0)
            {
                throw new ReceiptReadException($"{name} ended with exit code {process.ExitCode}: {Tail(await errors)}");
            }

            return text;
        }
        catch (OperationCanceledException) when (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }

    private static TimeSpan CpuTime(Process process)
    {
        try
        {
            return process.TotalProcessorTime;
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            return TimeSpan.Zero; // it has just ended
        }
    }

    /// <summary>What a tool writes to <paramref name="stream"/>, up to <see cref="OutputCharactersMax"/>; a tool that writes more is stopped.</summary>
    private static async Task<string> ReadCappedAsync(Process process, StreamReader stream, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (text.Length + read > OutputCharactersMax)
            {
                process.Kill(entireProcessTree: true);
                throw new ReceiptReadException($"{Path.GetFileName(process.StartInfo.FileName)} wrote more than {OutputCharactersMax:N0} characters and was stopped");
            }

            text.Append(buffer, 0, read);
        }

        return text.ToString();
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private string ToolSetting(string tool) =>
        tool == _options.TesseractPath ? nameof(ReceiptOptions.TesseractPath)
        : tool == _options.PdfToTextPath ? nameof(ReceiptOptions.PdfToTextPath)
        : nameof(ReceiptOptions.PdfToPpmPath);

    private static string Tail(string errors)
    {
        var text = errors.Trim();
        return text.Length == 0 ? "no message" : text.Length <= 300 ? text : "…" + text[^300..];
    }

    /// <summary>The text without control characters (a NUL in a PDF's text could not even be stored).</summary>
    internal static string Printable(string text) => text.Any(char.IsControl) ? string.Concat(text.Where(c => !char.IsControl(c))) : text;

    private static string CollapseSpaces(string line) => string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
