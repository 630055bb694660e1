using Microsoft.Extensions.DependencyInjection;
using Orleans.Transactions;
using Wallet.Grains.Transactions;
using Xunit;

namespace Wallet.Tests.Transactions;

/// <summary>
/// The silo's transaction agent starts transactions with at most <see cref="TransactionTimeout.Limit"/>
/// (the bank test shows what it is for: recovery after a kill). Orleans' agent is registered here the
/// way Orleans registers it, as a type, with a recording stand-in for it.
/// </summary>
public sealed class TransactionTimeoutTests
{
    [Fact]
    public async Task StartTransaction_IsGivenTheLimitInsteadOfOrleansFixedTenSeconds()
    {
        var (agent, recorded) = Build();

        await agent.StartTransaction(readOnly: false, TimeSpan.FromSeconds(10));

        Assert.Equal([TransactionTimeout.Limit], recorded.Timeouts);
    }

    [Fact]
    public async Task StartTransaction_KeepsAShorterTimeout()
    {
        var (agent, recorded) = Build();

        await agent.StartTransaction(readOnly: true, TimeSpan.FromMilliseconds(500));

        Assert.Equal([TimeSpan.FromMilliseconds(500)], recorded.Timeouts);
    }

    [Fact]
    public async Task ResolveAndAbort_ReachOrleansAgent()
    {
        var (agent, recorded) = Build();
        var transaction = await agent.StartTransaction(readOnly: false, TimeSpan.FromSeconds(10));

        var (status, _) = await agent.Resolve(transaction);
        await agent.Abort(transaction);

        Assert.Equal(TransactionalStatus.Ok, status);
        Assert.Equal([transaction, transaction], recorded.Finished);
    }

    [Fact]
    public void LimitTransactionTimeout_WithoutOrleansTransactions_SaysWhatIsMissing()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().LimitTransactionTimeout());

        Assert.Contains("UseTransactions", error.Message, StringComparison.Ordinal);
    }

    private static (ITransactionAgent Agent, Recordings Recorded) Build()
    {
        var services = new ServiceCollection();
        services.AddSingleton<Recordings>();
        services.AddSingleton<ITransactionAgent, RecordingAgent>();
        services.LimitTransactionTimeout();
        var provider = services.BuildServiceProvider();
        var agent = provider.GetRequiredService<ITransactionAgent>();
        Assert.IsNotType<RecordingAgent>(agent);
        return (agent, provider.GetRequiredService<Recordings>());
    }

    /// <summary>What the wrapped agent received; shared through the container, since the wrapper makes its own agent.</summary>
    private sealed class Recordings
    {
        public List<TimeSpan> Timeouts { get; } = [];

        public List<TransactionInfo> Finished { get; } = [];
    }

    private sealed class RecordingAgent(Recordings recordings) : ITransactionAgent
    {
        public Task<TransactionInfo> StartTransaction(bool readOnly, TimeSpan timeout)
        {
            recordings.Timeouts.Add(timeout);
            return Task.FromResult(new TransactionInfo(Guid.NewGuid(), DateTime.UtcNow, DateTime.UtcNow, readOnly));
        }

        public Task<(TransactionalStatus Status, Exception? exception)> Resolve(TransactionInfo transactionInfo)
        {
            recordings.Finished.Add(transactionInfo);
            return Task.FromResult<(TransactionalStatus, Exception?)>((TransactionalStatus.Ok, null));
        }

        public Task Abort(TransactionInfo transactionInfo)
        {
            recordings.Finished.Add(transactionInfo);
            return Task.CompletedTask;
        }
    }
}
