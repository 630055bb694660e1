using System.Globalization;
using Xunit.Abstractions;

namespace Wallet.Tests.Crash;

/// <summary>
/// The silo processes a crash test starts, one after the other, on one database: each on the same
/// silo and gateway ports, so that a restarted silo supersedes the killed one in the membership
/// table at once. When the test fails, the tail of every one's output goes to the test's output.
/// </summary>
internal sealed class RestartedSilos : IDisposable
{
    private readonly string _apiKey;
    private readonly ITestOutputHelper _output;
    private readonly Dictionary<string, string> _environment;
    private readonly List<SiloProcess> _silos = [];

    /// <param name="settings">Settings as environment variables (<c>Receipts__RetryPeriod</c>) every start gets.</param>
    public RestartedSilos(string apiKey, ITestOutputHelper output, IReadOnlyDictionary<string, string> settings)
    {
        _apiKey = apiKey;
        _output = output;
        _environment = new Dictionary<string, string>(settings)
        {
            ["Cluster__SiloPort"] = SiloProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Cluster__GatewayPort"] = SiloProcess.FreePort().ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Starts a silo on <paramref name="connectionString"/> and waits until it is ready.</summary>
    public async Task<SiloProcess> StartAsync(string name, string connectionString)
    {
        var silo = SiloProcess.Start(name, connectionString, _apiKey, _environment);
        _silos.Add(silo);
        await silo.WaitUntilReadyAsync();
        return silo;
    }

    /// <summary>Runs <paramref name="test"/>; when it fails, writes every silo's last output first.</summary>
    public async Task RunAsync(Func<Task> test)
    {
        try
        {
            await test();
        }
        catch
        {
            foreach (var silo in _silos)
            {
                _output.WriteLine(silo.Tail());
            }

            throw;
        }
    }

    public void Dispose()
    {
        foreach (var silo in _silos)
        {
            silo.Dispose();
        }
    }
}
