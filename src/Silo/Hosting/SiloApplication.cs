using Wallet.Api;
using Wallet.Grains;
using Wallet.Runtime.Commit;
using Wallet.Runtime.Hosting;

namespace Wallet.Silo.Hosting;

/// <summary>
/// The silo's composition: database, grains and, in this single-node mode, the HTTP API. The
/// silo process and the benchmark host the same thing through it.
/// </summary>
public static class SiloApplication
{
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddWalletDatabase(builder.Configuration);
        builder.Services.Configure<GrainRuntimeOptions>(builder.Configuration.GetSection("Runtime"));
        builder.Services.Configure<GroupCommitOptions>(builder.Configuration.GetSection("GroupCommit"));
        builder.Services.AddSilo(silo => silo.AddWalletGrains(sp => sp.GetRequiredService<WalletDatabase>().DataSource));
        builder.Services.AddWalletApi();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapWalletApi();
        return app;
    }
}
