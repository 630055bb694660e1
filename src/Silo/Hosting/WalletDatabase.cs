using Microsoft.Extensions.Options;
using Npgsql;
using Wallet.Grains;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Silo.Hosting;

/// <summary>Where the ledger lives. Bound from configuration section <c>Bootstrap</c>.</summary>
public sealed class BootstrapOptions
{
    /// <summary>An operator key to create at start-up, if it does not exist yet. None when empty.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The tenant the bootstrap key belongs to.</summary>
    public string TenantId { get; set; } = ApiKeyStore.DefaultTenant;
}

/// <summary>
/// Brings the database up before anything else starts: the configured <c>ConnectionStrings:Wallet</c>,
/// or, when there is none, a private PostgreSQL started from the machine's binaries. Then applies
/// the migrations and creates the bootstrap key. On shutdown, after every other service has
/// stopped, it stops the private PostgreSQL it started.
/// </summary>
public sealed partial class WalletDatabase(
    IConfiguration configuration,
    IOptions<BootstrapOptions> bootstrap,
    IServiceProvider services,
    ILogger<WalletDatabase> logger) : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>The ADO.NET provider name Orleans' clustering and reminders use for PostgreSQL.</summary>
    public const string Invariant = "Npgsql";

    private readonly EmbeddedPostgresOptions? _embeddedOptions = EmbeddedOptionsOf(configuration);
    private EmbeddedPostgres? _embedded;
    private NpgsqlDataSource? _dataSource;

    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The database is not started yet.");

    /// <summary>
    /// Where the database answers, known before it is started: Orleans' clustering reads it while
    /// the host is being built, and connects only once the database is up.
    /// </summary>
    public string ConnectionString => _embeddedOptions is null
        ? configuration.GetConnectionString("Wallet")!
        : EmbeddedPostgres.ConnectionStringOf(_embeddedOptions);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var connectionString = ConnectionString;
        if (_embeddedOptions is not null)
        {
            LogEmbedded(logger, _embeddedOptions.DataDirectory);
            _embedded = await EmbeddedPostgres.StartAsync(_embeddedOptions, logger, cancellationToken);
            if (_embeddedOptions.InstallIfMissing)
            {
                await InstallReceiptToolsAsync(cancellationToken);
            }
        }

        _dataSource = WalletDataSource.Create(connectionString);
        await services.GetRequiredService<Migrator>().MigrateAsync(cancellationToken);
        await services.GetRequiredService<CurrencyCatalog>().CheckDeclaredAssetsAsync(cancellationToken);
        if (bootstrap.Value.ApiKey is { Length: > 0 } key)
        {
            await services.GetRequiredService<ApiKeyStore>().EnsureAsync(
                key, new ApiKeyIdentity(bootstrap.Value.TenantId, UserRoles.Operator), cancellationToken);
        }
    }

    /// <summary>
    /// The quick start's set-up also brings the tools receipts are read with (tesseract-ocr,
    /// poppler-utils) when they are missing and the silo may install them. Without them the silo
    /// still runs; each receipt's reading fails with the reason, and can be retried once they are there.
    /// </summary>
    private async Task InstallReceiptToolsAsync(CancellationToken cancellationToken)
    {
        string[] missing = [.. new[] { ("tesseract", "tesseract-ocr"), ("pdftotext", "poppler-utils") }
            .Where(tool => !OnPath(tool.Item1)).Select(tool => tool.Item2)];
        if (missing.Length == 0)
        {
            return;
        }

        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/apt-get"))
        {
            LogReceiptToolsMissing(logger, string.Join(' ', missing));
            return;
        }

        try
        {
            await EmbeddedPostgres.InstallAsync(logger, missing, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            LogReceiptToolsNotInstalled(logger, e.Message);
        }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, tool)));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receipts cannot be read here until {Packages} is installed (apt-get install {Packages}, as root)")]
    private static partial void LogReceiptToolsMissing(ILogger logger, string packages);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receipts cannot be read here: installing their tools failed: {Reason}")]
    private static partial void LogReceiptToolsNotInstalled(ILogger logger, string reason);

    private static EmbeddedPostgresOptions? EmbeddedOptionsOf(IConfiguration configuration)
    {
        if (!string.IsNullOrWhiteSpace(configuration.GetConnectionString("Wallet")))
        {
            return null;
        }

        var options = new EmbeddedPostgresOptions();
        configuration.GetSection("Embedded").Bind(options);
        return options;
    }

    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync();
            _embedded = null;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "No ConnectionStrings:Wallet configured: starting a private PostgreSQL in {DataDirectory}")]
    private static partial void LogEmbedded(ILogger logger, string dataDirectory);
}

public static class WalletDatabaseServiceCollectionExtensions
{
    public static IServiceCollection AddWalletDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BootstrapOptions>(configuration.GetSection("Bootstrap"));
        services.AddSingleton<WalletDatabase>();
        services.AddHostedService(sp => sp.GetRequiredService<WalletDatabase>());
        return services;
    }
}
