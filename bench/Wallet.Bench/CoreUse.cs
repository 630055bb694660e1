using System.Diagnostics;
using System.Globalization;

namespace Wallet.Bench;

/// <summary>
/// What ran on the machine's cores, read from /proc every 500 ms: each process's CPU time by name (a
/// PostgreSQL process by its role, the bench's own threads by theirs), the kernel's own work as
/// "other" and the cores' idle time. A pause of the bench's process that the garbage collector does
/// not explain asks it who had the cores then.
/// </summary>
public sealed class CoreUse : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    // /proc reports times in USER_HZ, 100 per second on Linux whatever the kernel's own tick.
    private const double MillisecondsPerTick = 10;

    private readonly Lock _lock = new();
    private readonly List<(long From, long To, Dictionary<string, long> Ticks)> _spans = [];
    private readonly Dictionary<string, string> _names = [];
    private readonly HashSet<int> _kernel = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    private CoreUse()
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "bench core use" };
        _thread.Start();
    }

    /// <summary>A sampler on Linux; elsewhere there is no /proc to read.</summary>
    public static CoreUse? Start() => OperatingSystem.IsLinux() ? new CoreUse() : null;

    /// <summary>
    /// The CPU time by name in the samples that overlap <paramref name="from"/> to <paramref name="to"/>
    /// (<see cref="Stopwatch"/> timestamps), the most first: up to 500 ms either side of the span, so
    /// a short pause is described by the half second around it.
    /// </summary>
    public IReadOnlyList<(string Name, double Milliseconds)> Between(long from, long to, int most)
    {
        var totals = new Dictionary<string, long>();
        lock (_lock)
        {
            foreach (var (spanFrom, spanTo, ticks) in _spans)
            {
                if (spanTo < from || spanFrom > to)
                {
                    continue;
                }

                foreach (var (name, count) in ticks)
                {
                    totals[name] = totals.GetValueOrDefault(name) + count;
                }
            }
        }

        return totals.Where(t => t.Value > 0).OrderByDescending(t => t.Value).Take(most)
            .Select(t => (t.Key, t.Value * MillisecondsPerTick)).ToList();
    }

    /// <summary>Drops the samples that ended before <paramref name="before"/>: nothing before a new window is asked for.</summary>
    public void Forget(long before)
    {
        lock (_lock)
        {
            _spans.RemoveAll(s => s.To < before);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }

    private void Watch()
    {
        var (at, reading) = (Stopwatch.GetTimestamp(), Read());
        while (!_stop.Token.WaitHandle.WaitOne(Interval))
        {
            var (now, next) = (Stopwatch.GetTimestamp(), Read());
            var spent = new Dictionary<string, long>();
            foreach (var (id, (name, ticks)) in next.Processes)
            {
                // One that started since counts whole.
                var delta = ticks - (reading.Processes.TryGetValue(id, out var before) ? before.Ticks : 0);
                if (delta > 0)
                {
                    spent[name] = spent.GetValueOrDefault(name) + delta;
                }
            }

            // The kernel's threads (left unread) and interrupts, and what the counters' separate rounding leaves.
            spent["other"] = Math.Max(0, next.Busy - reading.Busy - spent.Values.Sum());
            spent["idle"] = next.Idle - reading.Idle;
            lock (_lock)
            {
                _spans.Add((at, now, spent));
            }

            (at, reading) = (now, next);
        }
    }

    // Every user process's name and user plus system time by its id (the bench's by thread), and the cores' busy and idle time.
    private (Dictionary<int, (string Name, long Ticks)> Processes, long Busy, long Idle) Read()
    {
        var read = new Dictionary<int, (string, long)>();
        var self = Environment.ProcessId;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || _kernel.Contains(pid))
            {
                continue;
            }

            if (pid == self)
            {
                foreach (var task in Directory.EnumerateDirectories(Path.Combine(directory, "task")))
                {
                    if (Stat(task) is { } thread)
                    {
                        read[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = ("bench " + thread.Name, thread.Ticks);
                    }
                }
            }
            else if (Stat(directory) is { } process)
            {
                // The kernel's threads (kthreadd, 2, and its children) are many and rarely busy: "other" counts them.
                if (pid == 2 || process.Parent == 2)
                {
                    _kernel.Add(pid);
                }
                else
                {
                    read[pid] = (NameOf(directory, process.Name), process.Ticks);
                }
            }
        }

        // The first line of /proc/stat: all cores' user, nice, system, idle, iowait, irq, softirq, steal, ... in ticks.
        var cores = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1).Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        return (read, cores[0] + cores[1] + cores[2] + cores[5] + cores[6] + cores[7], cores[3] + cores[4]);
    }

    // A process or thread's command name, parent and user plus system time; null when it ended meanwhile.
    internal static (string Name, int Parent, long Ticks)? Stat(string directory)
    {
        try
        {
            // After the command name in parentheses (which may hold spaces): state, ppid, ... utime, stime.
            var stat = File.ReadAllText(Path.Combine(directory, "stat"));
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            return (stat[(open + 1)..close], int.Parse(fields[1], CultureInfo.InvariantCulture),
                long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // A PostgreSQL process by its role (a backend titles itself "postgres: <user> <database> ..."), anything else by its command.
    private string NameOf(string directory, string command)
    {
        if (command != "postgres")
        {
            return command;
        }

        if (_names.TryGetValue(directory, out var known))
        {
            return known;
        }

        try
        {
            // The postmaster, or a child not yet titled, which is asked again next time.
            var title = File.ReadAllText(Path.Combine(directory, "cmdline"));
            if (!title.StartsWith("postgres: ", StringComparison.Ordinal))
            {
                return command;
            }

            return _names[directory] = "postgres " + (CpuMeter.BackgroundRole(title) ?? "backend");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return command;
        }
    }
}
