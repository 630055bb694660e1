using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Wallet.Api;
using Xunit;

namespace Wallet.Tests.Api;

/// <summary>The settings a process serving the API starts from (<see cref="WalletApi.ConfigurationDefaults"/>).</summary>
public sealed class HostingDefaultsTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string HostingLog = "Microsoft.AspNetCore.Hosting.Diagnostics";
    private const string HostingLogLevel = $"Logging:LogLevel:{HostingLog}";

    [Fact]
    public void HostingLog_IsOff_InTheSilo()
    {
        var loggers = api.Factory.GetService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger(HostingLog).IsEnabled(LogLevel.Critical));
        Assert.True(loggers.CreateLogger("Wallet.Api").IsEnabled(LogLevel.Warning));
    }

    [Fact]
    public void Defaults_LieBelowEveryOtherSource()
    {
        var bare = new ConfigurationManager();
        bare.AddWalletApiDefaults();
        Assert.Equal("None", bare[HostingLogLevel]);
        Assert.Equal("Information", bare["Logging:LogLevel:Default"]);

        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { [HostingLogLevel] = "Information" });
        configuration.AddWalletApiDefaults();
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });

        Assert.Equal("Information", configuration[HostingLogLevel]);
        Assert.Equal("Warning", configuration["Logging:LogLevel:Default"]);
    }
}
