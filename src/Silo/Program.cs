using Wallet.Silo.Hosting;

if (args is [VerifyCommand.Name, ..])
{
    return await VerifyCommand.RunAsync(args[1..], Console.Out);
}

if (args is [ReconCommand.Name, ..])
{
    return await ReconCommand.RunAsync(args[1..], Console.Out);
}

await SiloApplication.Build(args).RunAsync();
return 0;

/// <summary>The silo: grains, storage, migrations and, in this single-node mode, the HTTP API.</summary>
public partial class Program;
