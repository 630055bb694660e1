using Npgsql;
using Orleans.Serialization;

namespace Wallet.Grains.Ledger;

/// <summary>
/// Database faults never leave a grain as themselves: Npgsql's exceptions cannot cross Orleans'
/// wire (a remote caller would get a codec error instead of a reason), and a caller outside the
/// silo has no Npgsql to handle them with. What a retry can cure (the database away, a connection
/// broken, a transient error) becomes a <see cref="LedgerUnavailableException"/>, answered 503;
/// anything else an <see cref="InvalidOperationException"/> with the SQLSTATE, answered 500. The
/// same holds for a fault that only carries one (an Orleans transaction aborted because its storage
/// failed), and a call canceled under a grain (its caller's call timed out or was canceled) is
/// answered as unavailable too: whether its movement committed is for the retry to find out.
/// </summary>
internal sealed class DatabaseFaultFilter(Serializer serializer) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (Readable(exception) is { } readable)
        {
            throw readable;
        }
        catch (OperationCanceledException exception)
        {
            throw new LedgerUnavailableException($"The call was canceled before it finished: {exception.Message}");
        }
        catch (Exception exception) when (!CrossesTheWire(exception))
        {
            // Some other part of it (an Orleans fault's field) cannot be serialized: its caller would get a codec error.
            throw new LedgerUnavailableException($"The call failed ({exception.GetType().Name}): {exception.Message}");
        }
    }

    /// <summary>The fault a caller can read for <paramref name="exception"/> when it is or carries a database exception; otherwise null.</summary>
    public static Exception? Readable(Exception exception) =>
        exception is NpgsqlException database ? Translate(database) : DatabaseCause(exception) is { } cause ? Translate(cause) : null;

    private static NpgsqlException? DatabaseCause(Exception exception)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is NpgsqlException database)
            {
                return database;
            }
        }

        return exception is AggregateException aggregate ? aggregate.InnerExceptions.Select(DatabaseCause).FirstOrDefault(c => c is not null) : null;
    }

    // Faults are rare: trying the serializer on one costs nothing on the path that matters.
    private bool CrossesTheWire(Exception exception)
    {
        try
        {
            serializer.SerializeToArray(exception);
            return true;
        }
        catch (CodecNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The fault a caller on any silo or client can read, for a database exception.</summary>
    public static Exception Translate(NpgsqlException exception) => Retryable(exception)
        ? new LedgerUnavailableException($"The database could not complete the call: {exception.Message}")
        : new InvalidOperationException($"The database refused the call ({((PostgresException)exception).SqlState}): {exception.Message}");

    /// <summary>Whether a retry may cure <paramref name="exception"/>: a connection that failed or broke, or a server starting, stopping or out of connections.</summary>
    public static bool Retryable(NpgsqlException exception) => exception.IsTransient || exception is not PostgresException;
}
