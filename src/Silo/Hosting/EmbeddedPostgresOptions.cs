namespace Wallet.Silo.Hosting;

/// <summary>Where and how <see cref="EmbeddedPostgres"/> keeps its private PostgreSQL cluster.</summary>
public sealed class EmbeddedPostgresOptions
{
    /// <summary>
    /// Folder of the instance: <c>data/</c> holds the cluster, <c>run/</c> the unix socket,
    /// <c>postgres.log</c> the server log. Default: <see cref="DefaultDataDirectory"/>.
    /// </summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory();

    /// <summary>
    /// When false, the server runs with <c>fsync</c>, <c>synchronous_commit</c> and
    /// <c>full_page_writes</c> off: fast, and a machine crash may lose or corrupt data. For tests only.
    /// </summary>
    public bool Fsync { get; set; } = true;

    /// <summary>The server's <c>max_connections</c>: every silo's pools and Orleans' providers share it.</summary>
    public int MaxConnections { get; set; } = 200;

    /// <summary>Run <c>apt-get install -y postgresql</c> when no binaries are found and the process runs as root.</summary>
    public bool InstallIfMissing { get; set; } = true;

    /// <summary>The database <see cref="EmbeddedPostgres.ConnectionString"/> points at; created at start when absent.</summary>
    public string Database { get; set; } = "wallet";

    /// <summary>
    /// <c>/var/lib/wallet/postgres</c> for root; otherwise <c>$XDG_DATA_HOME/wallet/postgres</c>,
    /// or <c>~/.local/share/wallet/postgres</c> when XDG_DATA_HOME is unset.
    /// </summary>
    public static string DefaultDataDirectory()
    {
        if (Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows())
        {
            return "/var/lib/wallet/postgres";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "wallet", "postgres");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "share", "wallet", "postgres");
    }
}
