namespace Wallet.Runtime;

/// <summary>A failure that a caller may retry unchanged: nothing was applied.</summary>
public abstract class RetryableGrainException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The activation's mailbox holds <c>MailboxCapacityMax</c> messages already.</summary>
public sealed class MailboxFullException(GrainId grainId, int capacity)
    : RetryableGrainException($"The mailbox of {grainId} is full ({capacity} messages); retry later.")
{
    public GrainId GrainId { get; } = grainId;
}

/// <summary>
/// A group commit failed, so the turn that staged into it failed too. Its effect was rolled back,
/// unless the failure hid the outcome of COMMIT itself; idempotency keys make a retry safe either way.
/// </summary>
public sealed class CommitFailedException(string message, Exception? inner = null)
    : RetryableGrainException(message, inner);

/// <summary>The runtime is shutting down and takes no new calls.</summary>
public sealed class SiloUnavailableException(string message) : RetryableGrainException(message);

/// <summary>
/// A silo could not be reached. With <see cref="NotDelivered"/> the call never arrived, so it may be
/// sent elsewhere at once; without it the connection broke mid-call and only an idempotent retry is safe.
/// </summary>
public sealed class SiloUnreachableException(Cluster.SiloAddress? silo, bool notDelivered, string message, Exception? inner = null)
    : RetryableGrainException(message, inner)
{
    public Cluster.SiloAddress? Silo { get; } = silo;

    public bool NotDelivered { get; } = notDelivered;
}

/// <summary>A grain on another silo failed in a way no retry cures; the message is the remote one.</summary>
public sealed class RemoteGrainException(string message) : Exception(message);
