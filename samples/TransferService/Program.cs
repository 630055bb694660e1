using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using Wallet.Client;
using Wallet.Grains;
using Wallet.Grains.Wallets;

// Another .NET service moving money through Wallet's grains: two wallets, a deposit from the
// treasury, a transfer with an Idempotency-Key sent twice (applied once), then the balances.
//   dotnet run --project samples/TransferService -- [host:port ...]
// The silos: their gateways as arguments, else Client__ConnectionString (the silos' database, whose
// membership table lists the gateways), else Client__Gateways__N, else localhost:30000. Exit code 0 or 1.

const string TenantId = "default";
const string Currency = "USD";

var builder = Host.CreateApplicationBuilder(); // Client__* settings from the environment
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddWalletClient(options =>
{
    builder.Configuration.GetSection("Client").Bind(options);
    if (args.Length > 0)
    {
        options.Gateways = [.. args];
        options.ConnectionString = null;
    }
    else if (options.ConnectionString is null && options.Gateways.Count == 0)
    {
        options.Gateways = ["localhost:30000"];
    }
});

using var host = builder.Build();
await host.StartAsync(); // connects to a gateway
var client = host.Services.GetRequiredService<IClusterClient>();
var silos = await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
Console.WriteLine($"cluster: {silos.Count} active silos ({string.Join(", ", silos.Keys)})");
try
{
    var alice = await CreateWalletAsync("alice");
    var bob = await CreateWalletAsync("bob");
    Print("deposit", await TransferAsync(NewTransfer("@" + SystemAccounts.Treasury, alice, "100.00", idempotency: null)));

    // A retry after a timeout or a crash re-sends the same command; its key makes that safe.
    var key = "sample-" + Guid.NewGuid().ToString("N");
    var transfer = NewTransfer(alice, bob, "25.00", new IdempotencyRequest(key, RequestHash(alice, bob, "25.00")));
    Print("transfer", await TransferAsync(transfer));
    var retry = await client.Wallet(alice).Transfer(transfer);
    if (retry.Failure?.Code != LedgerErrors.IdempotencyKeyExists && !retry.Replayed)
    {
        throw new InvalidOperationException($"the retry of {key} was not recognised: {retry.Failure?.Code ?? "applied again"}");
    }

    Console.WriteLine($"retry    {key}: not applied again ({retry.Failure?.Code ?? "replayed"})");
    var aliceBalance = await PrintBalanceAsync("alice", alice);
    await PrintBalanceAsync("bob", bob);
    return aliceBalance.Posted == "75.00" ? 0 : throw new InvalidOperationException($"alice holds {aliceBalance.Posted}, not 75.00");
}
catch (Exception exception)
{
    Console.Error.WriteLine($"failed: {exception.Message}");
    return 1;
}
finally
{
    await host.StopAsync();
}

// Wallet ids have the API's form, so the HTTP API serves these wallets too.
async Task<string> CreateWalletAsync(string ownerId)
{
    var id = "wal_" + Guid.CreateVersion7().ToString("N");
    var result = await client.Wallet(id).Create(new CreateWallet(TenantId, Currency, ownerId, null, null, null));
    var wallet = result.Wallet ?? throw Failed($"create wallet for {ownerId}", result.Failure);
    Console.WriteLine($"wallet   {wallet.Id} ({ownerId}, {wallet.Currency})");
    return wallet.Id;
}

TransferCommand NewTransfer(string source, string destination, string amount, IdempotencyRequest? idempotency) =>
    new(TenantId, TransferIds.New(), source, destination, amount, Currency, Reference: null, Description: "transfer service sample",
        Metadata: null, idempotency, LedgerTime.Truncate(DateTimeOffset.UtcNow));

// The debit is decided in the source's turn: a wallet's grain, or the tenant's system account in the currency.
async Task<TransferView> TransferAsync(TransferCommand command)
{
    var source = SystemAccounts.TryParseReference(command.Source, out var name) ? SystemAccounts.WalletId(TenantId, name, Currency) : command.Source;
    var result = await client.Wallet(source).Transfer(command);
    return result.Transfer ?? throw Failed($"transfer {command.Source} -> {command.Destination}", result.Failure);
}

async Task<BalanceView> PrintBalanceAsync(string ownerId, string walletId)
{
    var result = await client.Wallet(walletId).Get(TenantId);
    var balance = (result.Wallet ?? throw Failed($"read {walletId}", result.Failure)).Balance;
    Console.WriteLine($"balance  {walletId} ({ownerId}): posted {balance.Posted}, pending {balance.Pending}, available {balance.Available} {Currency}");
    return balance;
}

static void Print(string step, TransferView transfer) =>
    Console.WriteLine($"{step,-8} {transfer.Id}: {transfer.Source} -> {transfer.Destination} {transfer.Amount} {transfer.Currency}");

// Stored with the key: what it stands for, so a reuse of the key for another request is told apart.
static string RequestHash(string source, string destination, string amount) =>
    Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"transfer\n{source}\n{destination}\n{amount}\n{Currency}")));

static InvalidOperationException Failed(string step, LedgerFailure? failure) =>
    new($"{step}: {failure?.Code} ({failure?.Detail})");
