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
        var below = EphemeralRangeStart();
        lock (Gate)
        {
            for (var attempt = 0; attempt < AttemptsMax; attempt++)
            {
                var port = Random.Shared.Next(LowestPort, below);
                if (!HandedOut.Contains(port) && IsFree(port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port between {LowestPort} and {below}");
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

    // Linux's "low high" range of local ports it picks for outgoing connections; 32768 when unknown.
    private static int EphemeralRangeStart()
    {
        const int DefaultStart = 32_768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start) && start > LowestPort + 1_000 ? start : DefaultStart;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return DefaultStart;
        }
    }
}
