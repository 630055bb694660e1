namespace Wallet.Tests.Cluster;

/// <summary>
/// An operator client of each silo's HTTP API, made on first use and kept for one test: a restarted
/// silo comes back on its slot's port, so the client still reaches it.
/// </summary>
public sealed class SiloClients(InProcessCluster cluster) : IDisposable
{
    private readonly Dictionary<int, HttpClient> _clients = [];

    public HttpClient this[int index]
    {
        get
        {
            if (!_clients.TryGetValue(index, out var client))
            {
                client = cluster[index].CreateClient();
                _clients[index] = client;
            }

            return client;
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
