using Microsoft.Extensions.DependencyInjection;
using Orleans.Transactions;

namespace Wallet.Grains.Transactions;

/// <summary>
/// How long a wallet transaction may keep a wallet's lock. Orleans' transaction client starts every
/// transaction with a fixed 10 s timeout, and a participant keeps a transaction's lock for the longer
/// of that timeout and its <c>LockTimeout</c>. When a silo dies, the transactions it was running
/// never finish, and every wallet they had locked on the survivors stayed locked for those 10 s, with
/// the movements queued behind them (the bank test's stall after some kills ended exactly 10.0 s after
/// the kill). Every movement here finishes within milliseconds, so 4 s is plenty, and it leaves a
/// kill's recovery, the dead silo declared dead in about 2 s, within the 10 s the cluster promises.
/// At 2 s, one run of the whole test suite left a spend unanswered after 30 s among 5,000
/// concurrent spends of one wallet (each lock group of that wallet must finish within the limit on a
/// starved machine); a wallet now also starts at most 128 transactions at once (WalletGrain).
/// </summary>
public static class TransactionTimeout
{
    /// <summary>The timeout of every transaction, and so how long a wallet's lock is held for one at most.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Starts the silo's transactions with at most <see cref="Limit"/> as their timeout, by wrapping
    /// the transaction agent Orleans registered (call it after <c>UseTransactions</c>). The agent is
    /// the seam Orleans gives: its client and its <c>[Transaction]</c> calls both start transactions
    /// through it.
    /// </summary>
    public static IServiceCollection LimitTransactionTimeout(this IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(ITransactionAgent))
            ?? throw new InvalidOperationException("no transaction agent is registered; call UseTransactions first");
        var implementation = registered.ImplementationType
            ?? throw new InvalidOperationException($"the transaction agent is registered as {registered}, not as a type to wrap");
        services.Remove(registered);
        services.AddSingleton<ITransactionAgent>(sp =>
            new LimitedTransactionAgent((ITransactionAgent)ActivatorUtilities.CreateInstance(sp, implementation), Limit));
        return services;
    }

    private sealed class LimitedTransactionAgent(ITransactionAgent agent, TimeSpan limit) : ITransactionAgent
    {
        public Task<TransactionInfo> StartTransaction(bool readOnly, TimeSpan timeout) =>
            agent.StartTransaction(readOnly, timeout < limit ? timeout : limit);

        public Task<(TransactionalStatus Status, Exception? exception)> Resolve(TransactionInfo transactionInfo) =>
            agent.Resolve(transactionInfo);

        public Task Abort(TransactionInfo transactionInfo) => agent.Abort(transactionInfo);
    }
}
