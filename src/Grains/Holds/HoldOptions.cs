namespace Wallet.Grains.Holds;

/// <summary>Settings of the <c>Holds</c> section.</summary>
public sealed class HoldOptions
{
    /// <summary>How long a hold lasts when the request does not say.</summary>
    public TimeSpan DefaultExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The longest a hold may last.</summary>
    public TimeSpan MaximumExpiry { get; set; } = TimeSpan.FromDays(31);

    /// <summary>
    /// The period of a wallet's expiry reminder: how soon an expiry that could not be released
    /// (the database away) is tried again, and the latest an expiry that came due while no silo ran
    /// is released once one runs again. Below Orleans' one minute only for tests.
    /// </summary>
    public TimeSpan ExpiryRetryPeriod { get; set; } = TimeSpan.FromMinutes(1);
}
