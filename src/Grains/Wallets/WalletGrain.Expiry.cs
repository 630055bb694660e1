using Orleans;
using Orleans.Runtime;
using Wallet.Grains.Holds;

namespace Wallet.Grains.Wallets;

/// <summary>
/// Hold expiry (card authorizations included: each holds its funds as a hold). A wallet with open
/// holds keeps one Orleans reminder, stored in PostgreSQL, due when its earliest hold expires, so
/// expiry is driven by the cluster's reminder service and survives restarts and failovers: a
/// reminder that came due while no silo ran fires once one does.
/// </summary>
internal sealed partial class WalletGrain : IRemindable
{
    private const string HoldExpiryReminder = "hold-expiry";

    // When the reminder is due now, as this activation registered it; null: not known (re-register).
    private DateTimeOffset? _expiryReminderDue;

    /// <summary>
    /// Makes the reminder due no later than <paramref name="expiresAt"/>, before the hold is staged:
    /// a hold is never committed without a reminder that will release it. Holds placed later than the
    /// earliest one (a card's authorizations, typically) cost no write.
    /// </summary>
    private async Task EnsureExpiryReminderAsync(DateTimeOffset expiresAt)
    {
        if (_expiryReminderDue is { } due && due <= expiresAt)
        {
            return;
        }

        await RegisterExpiryReminderAsync(expiresAt);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != HoldExpiryReminder)
        {
            return;
        }

        // Each release is a call of its own, decided in its own turn like any other.
        var now = clock.GetUtcNow();
        var self = this.AsReference<IWalletGrain>();
        foreach (var hold in (await CurrentAsync()).Holds.Values.Where(h => h.ExpiresAt <= now).OrderBy(h => h.ExpiresAt).ToList())
        {
            await self.ReleaseHold(new ReleaseHold(State.TenantId, hold.Id, HoldRelease.Expire, null, null, LedgerTime.Truncate(now)));
        }

        await Turn(RescheduleExpiryAsync);
    }

    /// <summary>
    /// Due at the next expiry among the open holds, or gone when none is left. In a turn, so no other
    /// reschedule runs meanwhile; a hold placed meanwhile registered its own due time before it committed.
    /// </summary>
    private async Task<bool> RescheduleExpiryAsync()
    {
        var holds = (await CurrentAsync()).Holds;
        if (holds.Count > 0)
        {
            await RegisterExpiryReminderAsync(holds.Values.Min(h => h.ExpiresAt));
            return true;
        }

        _expiryReminderDue = null;
        if (await this.GetReminder(HoldExpiryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        return false;
    }

    private async Task RegisterExpiryReminderAsync(DateTimeOffset due)
    {
        var wait = due - clock.GetUtcNow();
        await this.RegisterOrUpdateReminder(HoldExpiryReminder, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, holdOptions.Value.ExpiryRetryPeriod);
        _expiryReminderDue = due;
    }
}
