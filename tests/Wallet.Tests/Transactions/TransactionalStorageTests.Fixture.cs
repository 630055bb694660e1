using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Serialization;
using Orleans.TestingHost;
using Wallet.Grains.Ledger;
using Wallet.Grains.Transactions;
using Wallet.Tests.Cluster;
using Xunit;

namespace Wallet.Tests.Transactions;

public sealed partial class TransactionalStorageTests
{
    /// <summary>
    /// A silo of the test cluster over a migrated database: its data source and Orleans' serializer
    /// (which writes grain references), with a group commit of states that counts its transactions.
    /// </summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private TestCluster? _cluster;
        private GroupCommitter<StateWrite, StateWriteOutcome>? _committer;
        private int _keys;
        private int _batches;

        /// <summary>Group-commit transactions written so far.</summary>
        public int Batches => Volatile.Read(ref _batches);

        public IGrainFactory Grains => _cluster!.GrainFactory;

        public string NewKey() => $"account/{Guid.NewGuid():N}-{Interlocked.Increment(ref _keys)}/state";

        /// <summary>The silo's database.</summary>
        public NpgsqlDataSource Database => _cluster!.GetSiloServiceProvider().GetRequiredService<NpgsqlDataSource>();

        internal PostgresTransactionalStateStorage<Account> Create(string? key = null) => Storage<Account>(key ?? NewKey());

        /// <summary>A storage whose state carries ledger rows.</summary>
        internal PostgresTransactionalStateStorage<LedgerAccount> CreateCarrier() => Storage<LedgerAccount>(NewKey());

        /// <summary>A user wallet row holding <paramref name="balance"/>, for ledger rows to name.</summary>
        public async Task<string> NewWalletAsync(long balance)
        {
            var id = $"wallet-{Guid.NewGuid():N}";
            await Database.ExecuteAsync("""
                INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, balance, created_at)
                VALUES (@id, 't', 'user', 'USD', 2, 'active', @balance, now())
                """, ("id", id), ("balance", balance));
            return id;
        }

        /// <summary>A system account row of tenant <c>t</c> that may go negative, for ledger rows to name as a leg.</summary>
        public async Task<string> NewSystemAccountAsync()
        {
            var id = $"sys:t:fees-{Guid.NewGuid():N}:USD";
            await Database.ExecuteAsync("""
                INSERT INTO wallets (id, tenant_id, kind, currency, scale, status, may_go_negative, created_at)
                VALUES (@id, 't', 'system', 'USD', 2, 'active', true, now())
                """, ("id", id));
            return id;
        }

        public Task<long> BalanceAsync(string walletId) => Database.ScalarAsync("SELECT balance FROM wallets WHERE id = @id", ("id", walletId));

        /// <summary>A storage of <paramref name="key"/> that reads through <paramref name="dataSource"/>.</summary>
        internal PostgresTransactionalStateStorage<Account> CreateOver(NpgsqlDataSource dataSource, string key) => Storage<Account>(key, dataSource);

        private PostgresTransactionalStateStorage<TState> Storage<TState>(string key, NpgsqlDataSource? dataSource = null)
            where TState : class, new() =>
            new(key, dataSource ?? Database, _committer!, _cluster!.GetSiloServiceProvider().GetRequiredService<Serializer>(), new LedgerWatermark(), new CommittedState());

        public async Task InitializeAsync()
        {
            (_cluster, _) = await WalletTestCluster.StartAsync("transactional_storage", 1);
            var silo = _cluster.GetSiloServiceProvider();
            _committer = new GroupCommitter<StateWrite, StateWriteOutcome>(
                new CountingWriter(new TransactionalStateWriter(silo.GetRequiredService<NpgsqlDataSource>()), () => Interlocked.Increment(ref _batches)),
                new GroupCommitOptions(),
                metrics: null,
                NullLogger<GroupCommitter<StateWrite, StateWriteOutcome>>.Instance);
        }

        public async Task DisposeAsync()
        {
            if (_committer is not null)
            {
                await _committer.DisposeAsync();
            }

            if (_cluster is not null)
            {
                await _cluster.DisposeAsync();
            }
        }
    }

    private sealed class CountingWriter(ICommitHandler<StateWrite, StateWriteOutcome> inner, Action counted) : ICommitHandler<StateWrite, StateWriteOutcome>
    {
        public Task<StateWriteOutcome[]> CommitAsync(IReadOnlyList<StateWrite> items, CancellationToken cancellationToken)
        {
            counted();
            return inner.CommitAsync(items, cancellationToken);
        }

        public bool InvalidatesCachedState(StateWriteOutcome outcome) => inner.InvalidatesCachedState(outcome);
    }
}
