using Orleans;

namespace Wallet.Grains;

/// <summary>
/// The ledger could not decide or commit the call now: a group commit failed, the silo is stopping,
/// or the grain has too many calls waiting for their turn. Nothing the call asked for is known to
/// have been applied twice; a retry with the same Idempotency-Key is safe and finds what did commit.
/// The API answers it with 503 and <c>Retry-After</c>.
/// </summary>
[GenerateSerializer, Alias("wallet.LedgerUnavailableException")]
public sealed class LedgerUnavailableException : Exception
{
    public LedgerUnavailableException()
    {
    }

    public LedgerUnavailableException(string message)
        : base(message)
    {
    }

    public LedgerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Known to have written nothing (every attempt was aborted), rather than of unknown outcome.</summary>
    [Id(0)]
    public bool NothingWritten { get; init; }
}
