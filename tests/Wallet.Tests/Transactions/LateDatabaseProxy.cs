using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Wallet.Tests.Transactions;

/// <summary>
/// A TCP port in front of the test database that refuses connections until <see cref="Open"/>:
/// a database that is away (restarting) and then comes back, at the same address.
/// </summary>
internal sealed class LateDatabaseProxy : IAsyncDisposable
{
    private readonly string _socketPath;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private Task _accepting = Task.CompletedTask;

    public LateDatabaseProxy(NpgsqlDataSource database)
    {
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        if (target.Host is not { } host || !host.StartsWith('/'))
        {
            throw new InvalidOperationException("The test database is expected on a Unix socket.");
        }

        _socketPath = Path.Combine(host, $".s.PGSQL.{target.Port}");
        // A port that nothing listens on until Open: connecting to it is refused.
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        _listener = new TcpListener(IPAddress.Loopback, port);
        ConnectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Host = "127.0.0.1",
            Port = port,
            Pooling = false,
        }.ConnectionString;
    }

    /// <summary>The database's connection string, through this port.</summary>
    public string ConnectionString { get; }

    /// <summary>Starts accepting, and carries each connection to the database.</summary>
    public void Open()
    {
        _listener.Start();
        _accepting = AcceptAsync(_stop.Token);
    }

    private async Task AcceptAsync(CancellationToken stop)
    {
        var pumps = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(stop);
                pumps.Add(CarryAsync(client, stop));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(pumps);
    }

    private async Task CarryAsync(TcpClient client, CancellationToken stop)
    {
        using (client)
        using (var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await server.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), stop);
            await using var serverStream = new NetworkStream(server, ownsSocket: false);
            var clientStream = client.GetStream();
            try
            {
                await Task.WhenAny(clientStream.CopyToAsync(serverStream, stop), serverStream.CopyToAsync(clientStream, stop));
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // Either side closed.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
