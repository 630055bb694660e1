using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;

namespace Wallet.Grains.Receipts;

/// <summary>
/// Card authorizations before receipts, on one silo: while an authorization (or a capture, reversal
/// or increment) is being handled here, the silo's receipt readings are held: their tools' processes
/// are stopped (SIGSTOP) and picture preparation waits at its next step. They go on (SIGCONT) as soon
/// as none is. Scheduling the readings only on idle CPU is not enough on a small virtual machine: a
/// reading running beside an authorization still doubled its latency there.
/// </summary>
/// <remarks>
/// So that receipts are still read on a silo that is never without an authorization, readings held
/// for longer than a slice's worth of <see cref="ReceiptOptions.ReadingShareMin"/> run for a slice
/// (<see cref="Slice"/>) whatever arrives: they get at least that share of the time.
/// Processes are signalled through a pidfd where Linux has them, so a signal can never reach another
/// process that took an ended tool's id.
/// </remarks>
public sealed partial class ReadingYield : IDisposable
{
    /// <summary>How long readings run when their share is due, held or not.</summary>
    public static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(50);

    private const int StopSignal = 19; // SIGSTOP
    private const int ContinueSignal = 18; // SIGCONT

    private readonly Lock _gate = new();
    private readonly TimeProvider _clock;
    private readonly ITimer _timer;
    private readonly TimeSpan _heldMax;
    private readonly bool _yields;
    private readonly HashSet<Tool> _tools = [];
    private readonly ManualResetEventSlim _running = new(initialState: true);
    private int _authorizing;
    private bool _held;
    private long _heldSince;
    private long _shareUntil;
    private TimeSpan _heldBefore;
    private bool _disposed;

    public ReadingYield(IOptions<ReceiptOptions> options, TimeProvider clock)
    {
        _clock = clock;
        var share = options.Value.ReadingShareMin;
        _yields = share < 1;
        _heldMax = _yields ? Slice * ((1 - share) / share) : TimeSpan.Zero;
        _timer = clock.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Whether readings are held now.</summary>
    public bool Held
    {
        get
        {
            lock (_gate)
            {
                return _held;
            }
        }
    }

    /// <summary>How long readings have been held in all, up to now.</summary>
    public TimeSpan HeldTime
    {
        get
        {
            lock (_gate)
            {
                return _heldBefore + (_held ? _clock.GetElapsedTime(_heldSince) : TimeSpan.Zero);
            }
        }
    }

    /// <summary>Starts a watch of the time readings run: the wall-clock time from now, less the time they are held.</summary>
    public RunningWatch StartRunningWatch() => new(this, _clock.GetTimestamp(), HeldTime);

    /// <summary>Marks an authorization as being handled on this silo until the result is disposed.</summary>
    public IDisposable Authorizing()
    {
        if (!_yields)
        {
            return NoAuthorization.Instance;
        }

        lock (_gate)
        {
            _authorizing++;
            if (!_held && !_disposed && _clock.GetTimestamp() >= _shareUntil)
            {
                Hold();
            }
        }

        return new Authorization(this);
    }

    /// <summary>Holds and lets go of the tool process <paramref name="process"/> with the readings, until the result is disposed.</summary>
    public IDisposable Track(Process process)
    {
        var tool = Tool.Open(process.Id);
        lock (_gate)
        {
            _tools.Add(tool);
            if (_held)
            {
                tool.Signal(StopSignal);
            }
        }

        return new Tracked(this, tool);
    }

    /// <summary>Waits while readings are held: called between the steps of work done in the silo's own process.</summary>
    public void WaitWhileHeld(CancellationToken cancellationToken) => _running.Wait(cancellationToken);

    /// <summary>Lets every reading go for good (the silo is stopping): authorizations handled after this hold nothing.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            if (_held)
            {
                LetGo();
            }
        }

        _timer.Dispose();
    }

    private void EndAuthorizing()
    {
        lock (_gate)
        {
            if (--_authorizing == 0 && _held)
            {
                LetGo();
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            if (_held)
            {
                // Held for as long as the share allows: the readings run a slice, whatever arrives meanwhile.
                LetGo();
                _shareUntil = _clock.GetTimestamp() + (long)(Slice.TotalSeconds * _clock.TimestampFrequency);
                _timer.Change(Slice, Timeout.InfiniteTimeSpan);
            }
            else if (_authorizing > 0)
            {
                Hold();
            }
        }
    }

    private void Hold()
    {
        _held = true;
        _heldSince = _clock.GetTimestamp();
        _running.Reset();
        foreach (var tool in _tools)
        {
            tool.Signal(StopSignal);
        }

        _timer.Change(_heldMax, Timeout.InfiniteTimeSpan);
    }

    private void LetGo()
    {
        _held = false;
        _heldBefore += _clock.GetElapsedTime(_heldSince);
        foreach (var tool in _tools)
        {
            tool.Signal(ContinueSignal);
        }

        _running.Set();
    }

    private void Untrack(Tool tool)
    {
        lock (_gate)
        {
            _tools.Remove(tool);
        }

        tool.Dispose();
    }

    /// <summary>The time readings ran since <see cref="StartRunningWatch"/>.</summary>
    public readonly struct RunningWatch(ReadingYield owner, long started, TimeSpan heldBefore)
    {
        public TimeSpan Elapsed => owner._clock.GetElapsedTime(started) - (owner.HeldTime - heldBefore);
    }

    private sealed class Authorization(ReadingYield owner) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                owner.EndAuthorizing();
            }
        }
    }

    private sealed class NoAuthorization : IDisposable
    {
        public static readonly NoAuthorization Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Tracked(ReadingYield owner, Tool tool) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                owner.Untrack(tool);
            }
        }
    }

    /// <summary>
    /// A tool's process as a pidfd (Linux 5.3 and later): signals sent through it reach that process
    /// or nothing. Where one cannot be opened, its id. Signals are Linux's: elsewhere nothing is held
    /// but work in the silo's own process.
    /// </summary>
    private sealed class Tool : IDisposable
    {
        // The same numbers on every architecture Linux added them to at once (x86-64, arm64).
        private const long PidFdOpen = 434;
        private const long PidFdSendSignal = 424;

        private readonly int _id;
        private int _pidFd;

        private Tool(int id, int pidFd) => (_id, _pidFd) = (id, pidFd);

        public static Tool Open(int id) =>
            new(id, OperatingSystem.IsLinux() ? (int)SystemCall(PidFdOpen, id, 0, 0, 0) : -1);

        public void Signal(int signal)
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            // An ended process is refused harmlessly either way.
            _ = _pidFd >= 0 ? SystemCall(PidFdSendSignal, _pidFd, signal, 0, 0) : Kill(_id, signal);
        }

        public void Dispose()
        {
            var pidFd = Interlocked.Exchange(ref _pidFd, -1);
            if (pidFd >= 0)
            {
                _ = Close(pidFd);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SystemCall(long number, long a, long b, long c, long d);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int id, int signal);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
