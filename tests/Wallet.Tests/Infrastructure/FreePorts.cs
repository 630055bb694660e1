using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// Loopback TCP ports nobody listens on now, for the silos and servers a test starts. They are taken
/// below the kernel's ephemeral range: a process restarted on its old port (a killed silo coming back
/// as a new generation of the same endpoint) would otherwise find it taken by some outgoing
/// connection's local port in the meantime. No port is handed out twice in a test run.
/// </summary>
public static class FreePorts
{
    private const int LowestPort = 20_000;
    private const int AttemptsMax = 1_000;

    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    public static int Next()
    {
        var (low, high) = OutsideEphemeralRange();
        lock (Gate)
        {
            for (var attempt = 0; attempt < AttemptsMax; attempt++)
            {
                var port = Random.Shared.Next(low, high);
                if (!HandedOut.Contains(port) && IsFree(port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port between {low} and {high}");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Ports [low, high) the kernel never picks for an outgoing connection: below its ephemeral range
    /// (Linux's "low high" in ip_local_port_range, 32768-60999 by default), or above it when the range
    /// starts too low to leave room below.
    /// </summary>
    private static (int Low, int High) OutsideEphemeralRange()
    {
        const int SpanMin = 1_000;
        var (start, end) = (32_768, 60_999);
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)
                .Select(part => int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture))
                .ToArray();
            (start, end) = (range[0], range[1]);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Not Linux, or unreadable: the default range.
        }

        if (start - LowestPort >= SpanMin)
        {
            return (LowestPort, start);
        }

        return 65_535 - end >= SpanMin
            ? (end + 1, 65_536)
            : throw new InvalidOperationException($"the ephemeral port range {start}-{end} leaves no room for fixed test ports");
    }
}
