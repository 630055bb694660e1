namespace Wallet.Runtime.Hosting;

/// <summary>Limits and timings of the grain runtime. Bound from configuration section <c>Runtime</c>.</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>Requests one activation may hold queued; one more is rejected with <see cref="MailboxFullException"/>.</summary>
    public int MailboxCapacityMax { get; set; } = 10_000;

    /// <summary>How long a caller waits for a reply before <see cref="TimeoutException"/>.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An activation idle for this long is collected.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the collector looks for idle activations.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);
}
