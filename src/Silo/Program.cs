using Wallet.Silo.Hosting;

SiloApplication.Build(args).Run();

/// <summary>The silo: grains, storage, migrations and, in this single-node mode, the HTTP API.</summary>
public partial class Program;
