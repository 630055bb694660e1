using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Wallet.Grains.Cards;
using Wallet.Grains.Ledger;

namespace Wallet.Grains.Receipts;

/// <summary>
/// Drives one receipt's reading: OCR (or its PDF's text), extraction, verification against its
/// authorization, the outcome written. A reminder is registered before the reading and removed
/// only once the receipt's status is final, so a reading cut short (a silo killed, the database
/// away, a tool failing) starts again on the next tick, on whichever silo then hosts the grain.
/// </summary>
/// <remarks>
/// Reentrant: a call to <see cref="Start"/> or a reminder tick never waits for a reading, which can
/// queue behind others for a slot. At most one reading runs per activation; a start asked for while
/// one runs (a retry right after an outcome) is run after it. What the database holds decides: a
/// reading writes its outcome only if the receipt is still as the reading found it.
/// </remarks>
[Reentrant]
[GrainType(LedgerGrains.ReceiptTypeName)]
internal sealed class ReceiptGrain(
    ReceiptStore receipts,
    CardStore cards,
    ReceiptReader reader,
    LedgerMetrics metrics,
    IOptions<ReceiptOptions> options,
    TimeProvider clock,
    ILogger<ReceiptGrain> logger) : Grain, IReceiptGrain, IRemindable
{
    private const string ReadingReminder = "receipt-reading";

    // The reading scheduled or running; null when none is.
    private IGrainTimer? _reading;

    // A start came while a reading ran: read again once it ends.
    private bool _again;

    // A start is registering the reminder, before it schedules the reading.
    private bool _starting;

    private string Id => this.GetPrimaryKeyString();

    /// <remarks>
    /// The reminder is registered before the reading is scheduled: a silo that dies at any point
    /// after this call returned leaves a reminder that brings the reading back.
    /// </remarks>
    public async Task Start()
    {
        if (_reading is not null || _starting)
        {
            _again = true;
            return;
        }

        _starting = true;
        try
        {
            await this.RegisterOrUpdateReminder(ReadingReminder, options.Value.RetryPeriod, options.Value.RetryPeriod);
        }
        finally
        {
            _starting = false;
        }

        ScheduleReading();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ReadingReminder && _reading is null && !_starting)
        {
            ScheduleReading();
        }

        return Task.CompletedTask;
    }

    private void ScheduleReading() =>
        _reading = this.RegisterGrainTimer(ReadAsync, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var final = false;
        try
        {
            final = await ReadOnceAsync(cancellationToken);

            // A start that came meanwhile (a retry) keeps the reminder: it is read again below.
            if (final && !_again && await this.GetReminder(ReadingReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The database away, most likely: the reminder's next tick reads it again.
            logger.LogWarning(e, "Reading receipt {ReceiptId} stopped; it is read again in {RetryPeriod}", Id, options.Value.RetryPeriod);
        }
        catch (OperationCanceledException)
        {
            // The activation is going away; the reminder brings the reading back.
        }

        _reading?.Dispose();
        _reading = null;
        if (_again)
        {
            _again = false;
            try
            {
                await Start();
            }
            catch (Exception e)
            {
                // The reminder is still there (kept above): its next tick reads the receipt.
                logger.LogWarning(e, "Reading receipt {ReceiptId} again could not start; it is read again in {RetryPeriod}", Id, options.Value.RetryPeriod);
            }
        }
    }

    /// <summary>
    /// One reading of the receipt, in one of the silo's reading slots (taken before the receipt is
    /// loaded); true when its status is final (or it is gone). A reading that lost a race to another
    /// (a retry, a second activation) changes nothing and is not final: the next tick finds out.
    /// </summary>
    private async Task<bool> ReadOnceAsync(CancellationToken cancellationToken)
    {
        using var slot = await reader.WaitForSlotAsync(cancellationToken);
        var (work, failedNow) = await receipts.StartReadingAsync(Id, options.Value.AttemptsMax, Now(), cancellationToken);
        if (work is null)
        {
            if (failedNow)
            {
                metrics.ReceiptRead(ReceiptStatuses.Failed, null);
            }

            return true;
        }

        var authorization = work.AuthorizationId is { } authorizationId ? await cards.GetAuthorizationAsync(work.TenantId, authorizationId, cancellationToken) : null;
        ReceiptText text;
        try
        {
            text = await reader.ReadAsync(work.ContentType, work.Content, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = e is ReceiptReadException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            var status = await receipts.FailAttemptAsync(Id, work, error, options.Value.AttemptsMax, Now(), cancellationToken);
            logger.LogWarning(e, "Reading receipt {ReceiptId} failed (attempt {Attempt} of {AttemptsMax}): {Error}", Id, work.Attempts, options.Value.AttemptsMax, error);
            if (status == ReceiptStatuses.Failed)
            {
                metrics.ReceiptRead(ReceiptStatuses.Failed, null);
            }

            return status is not null && status != ReceiptStatuses.Processing;
        }

        var fields = ReceiptExtractor.Extract(text, authorization is null ? null : ReceiptVerifier.DayOf(authorization));
        var verdict = ReceiptVerifier.Verify(fields, authorization, options.Value);
        var extracted = new ReceiptExtracted(fields.Total, fields.Date, fields.Merchant, verdict.MerchantSimilarity, fields.Source, fields.Text);
        if (!await receipts.CompleteAsync(Id, work, verdict, extracted, (int)Math.Ceiling(text.Elapsed.TotalMilliseconds), Now(), cancellationToken))
        {
            return false;
        }

        metrics.ReceiptRead(verdict.Status, text.Elapsed);
        return true;
    }

    private DateTimeOffset Now() => LedgerTime.Truncate(clock.GetUtcNow());
}
