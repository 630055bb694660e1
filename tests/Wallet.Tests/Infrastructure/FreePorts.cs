using System.Net;
using System.Net.Sockets;

namespace Wallet.Tests.Infrastructure;

/// <summary>Loopback TCP ports nobody listens on now, for the silos and servers a test starts.</summary>
public static class FreePorts
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
