using System.Data;
using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace Wallet.Tests.Cluster;

/// <summary>
/// The bank as PostgreSQL holds it, read behind the API's back: consistent snapshots of the bank's
/// balances while the workload runs, and at the end the accounting of every transfer the clients
/// sent against the entries, keys and balances that were committed.
/// </summary>
internal sealed class BankLedger : IAsyncDisposable
{
    private const int SnapshotPeriodMs = 1_000;
    private const int ViolationsKeptMax = 50;

    private const string SnapshotWallets = "SELECT id, balance, pending, overdraft_limit FROM wallets WHERE id = ANY($1)";
    private const string SnapshotAllBalances = "SELECT coalesce(sum(balance), 0)::bigint FROM wallets";
    private const string RunEntries = """
        SELECT metadata->>'bank_key', id, source_id, destination_id, amount FROM entries WHERE metadata->>'bank_run' = $1
        """;

    private const string RunKeys = "SELECT key, outcome, body FROM idempotency_keys WHERE key LIKE $1";

    private readonly NpgsqlDataSource _database;
    private readonly string _run;
    private readonly string[] _wallets;
    private readonly long _fundedTotal;
    private readonly Lock _gate = new();
    private readonly List<string> _violations = [];
    private int _snapshots;
    private int _unavailable;
    private int _violationCount;

    public BankLedger(string connectionString, string run, string[] wallets, long fundedTotal)
    {
        // Short timeouts: a snapshot taken while the database restarts fails fast and is counted as such.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 4, Timeout = 3, CommandTimeout = 10 };
        _database = NpgsqlDataSource.Create(builder.ConnectionString);
        _run = run;
        _wallets = wallets;
        _fundedTotal = fundedTotal;
    }

    /// <summary>Snapshots that read the database.</summary>
    public int Snapshots => Volatile.Read(ref _snapshots);

    /// <summary>Snapshots that could not read it (the database was down).</summary>
    public int Unavailable => Volatile.Read(ref _unavailable);

    /// <summary>Every violation found, also those beyond the ones kept in <see cref="Violations"/>.</summary>
    public int ViolationCount => Volatile.Read(ref _violationCount);

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_gate)
            {
                return [.. _violations];
            }
        }
    }

    /// <summary>Takes a snapshot every <see cref="SnapshotPeriodMs"/> until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunSnapshotsAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await TrySnapshotAsync();
            try
            {
                await Task.Delay(SnapshotPeriodMs, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One REPEATABLE READ transaction: the bank's wallets and the sum over every account. The bank
    /// must hold exactly what was funded (transfers only move money inside it), no wallet may be
    /// below zero or have more held than it has, and the whole ledger must sum to zero.
    /// </summary>
    public async Task<bool> TrySnapshotAsync()
    {
        List<(string Id, long Balance, long Pending, long Overdraft)> rows = [];
        long allAccounts;
        try
        {
            await using var connection = await _database.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
            await using (var command = new NpgsqlCommand(SnapshotWallets, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = _wallets });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
                }
            }

            await using (var command = new NpgsqlCommand(SnapshotAllBalances, connection, transaction))
            {
                allAccounts = (long)(await command.ExecuteScalarAsync())!;
            }

            await transaction.CommitAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            Interlocked.Increment(ref _unavailable);
            return false;
        }

        var number = Interlocked.Increment(ref _snapshots);
        Check(number, rows, allAccounts);
        return true;
    }

    /// <summary>Compares what the clients were told with what the database committed.</summary>
    public async Task<BankAccounting> AccountAsync(IReadOnlyCollection<BankTransfer> transfers, long fundedPerWallet)
    {
        var entries = await ReadEntriesAsync();
        var keys = await ReadKeysAsync();
        var balances = await ReadBalancesAsync();
        return BankAccounting.Of(transfers, entries, keys, balances, _wallets, fundedPerWallet);
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private void Check(int number, List<(string Id, long Balance, long Pending, long Overdraft)> rows, long allAccounts)
    {
        var at = $"snapshot {number.ToString(CultureInfo.InvariantCulture)}";
        if (rows.Count != _wallets.Length)
        {
            Violate($"{at}: {rows.Count.ToString(CultureInfo.InvariantCulture)} of the {_wallets.Length.ToString(CultureInfo.InvariantCulture)} wallets found");
        }

        var total = rows.Sum(r => r.Balance);
        if (total != _fundedTotal)
        {
            Violate($"{at}: the bank holds {total.ToString(CultureInfo.InvariantCulture)}, funded {_fundedTotal.ToString(CultureInfo.InvariantCulture)} (minor units)");
        }

        if (allAccounts != 0)
        {
            Violate($"{at}: the balances of all accounts sum to {allAccounts.ToString(CultureInfo.InvariantCulture)}, not 0");
        }

        foreach (var row in rows.Where(r => r.Balance < 0 || r.Pending < 0 || r.Balance - r.Pending + r.Overdraft < 0))
        {
            Violate($"{at}: wallet {row.Id} has balance {row.Balance.ToString(CultureInfo.InvariantCulture)}, pending {row.Pending.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    private void Violate(string violation)
    {
        lock (_gate)
        {
            _violationCount++;
            if (_violations.Count < ViolationsKeptMax)
            {
                _violations.Add(violation);
            }
        }
    }

    private async Task<List<BankEntry>> ReadEntriesAsync()
    {
        var entries = new List<BankEntry>();
        await using var command = _database.CreateCommand(RunEntries);
        command.Parameters.Add(new NpgsqlParameter { Value = _run });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            entries.Add(new BankEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
        }

        return entries;
    }

    private async Task<Dictionary<string, (string Outcome, string Body)>> ReadKeysAsync()
    {
        var keys = new Dictionary<string, (string Outcome, string Body)>(StringComparer.Ordinal);
        await using var command = _database.CreateCommand(RunKeys);
        command.Parameters.Add(new NpgsqlParameter { Value = $"bank-{_run}-%" });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2));
        }

        return keys;
    }

    private async Task<Dictionary<string, long>> ReadBalancesAsync()
    {
        var balances = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = _database.CreateCommand("SELECT id, balance FROM wallets WHERE id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = _wallets });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            balances[reader.GetString(0)] = reader.GetInt64(1);
        }

        return balances;
    }
}

/// <summary>A committed entry of the run, with the Idempotency-Key its transfer carried in its metadata.</summary>
internal sealed record BankEntry(string Key, string Id, string Source, string Destination, long Amount);

/// <summary>
/// The end-of-run accounting. Every acknowledged transfer must be in the ledger exactly once, as
/// sent; no key may be applied twice; nothing refused may be applied; and each wallet must hold
/// what it was funded plus what the applied transfers moved. A transfer applied without the client
/// hearing so (no definite answer by the end) is reported, never counted as lost.
/// </summary>
internal sealed class BankAccounting
{
    private const int ViolationsKeptMax = 50;

    private readonly List<string> _violations = [];

    public int Acknowledged { get; private init; }

    public int FoundOnce { get; private set; }

    public int Lost { get; private set; }

    /// <summary>Keys with more than one entry.</summary>
    public int Duplicated { get; private set; }

    public int UnacknowledgedButApplied { get; private set; }

    /// <summary>Refused (or otherwise answered without a 201) and yet in the ledger.</summary>
    public int AppliedButRefused { get; private set; }

    /// <summary>Entries whose key no client sent.</summary>
    public int Phantom { get; private set; }

    public int KeyMismatches { get; private set; }

    public int BalanceMismatches { get; private set; }

    public int Entries { get; private init; }

    /// <summary>Acknowledged, in the ledger once, but with another id, accounts or amount.</summary>
    public int Altered { get; private set; }

    /// <summary>Every violation found, also those beyond the ones kept in <see cref="Violations"/>.</summary>
    public int ViolationCount { get; private set; }

    public IReadOnlyList<string> Violations => _violations;

    public static BankAccounting Of(
        IReadOnlyCollection<BankTransfer> transfers,
        List<BankEntry> entries,
        Dictionary<string, (string Outcome, string Body)> keys,
        Dictionary<string, long> balances,
        string[] wallets,
        long fundedPerWallet)
    {
        var byKey = entries.GroupBy(e => e.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var sent = transfers.ToDictionary(t => t.Key, StringComparer.Ordinal);
        var accounting = new BankAccounting { Acknowledged = transfers.Count(t => t.Outcome == BankOutcome.Acknowledged), Entries = entries.Count };
        accounting.CheckAcknowledged(transfers, byKey);
        accounting.CheckEntries(byKey, sent);
        accounting.CheckKeys(byKey, keys);
        accounting.CheckBalances(byKey, sent, balances, wallets, fundedPerWallet);
        return accounting;
    }

    private void CheckAcknowledged(IReadOnlyCollection<BankTransfer> transfers, Dictionary<string, List<BankEntry>> byKey)
    {
        foreach (var transfer in transfers.Where(t => t.Outcome == BankOutcome.Acknowledged))
        {
            var rows = byKey.GetValueOrDefault(transfer.Key) ?? [];
            if (rows.Count == 0)
            {
                Lost++;
                Violate($"lost: {transfer.Key} was acknowledged as {transfer.TransferId} and is not in the ledger");
                continue;
            }

            var row = rows[0];
            if (rows.Count == 1 && row.Id == transfer.TransferId
                && (row.Source, row.Destination, row.Amount) == (transfer.Source, transfer.Destination, transfer.Amount))
            {
                FoundOnce++;
            }
            else if (rows.Count == 1)
            {
                Altered++;
                Violate($"{transfer.Key} was acknowledged as {transfer.TransferId} {transfer.Source}->{transfer.Destination} {transfer.Amount.ToString(CultureInfo.InvariantCulture)}, " +
                    $"the ledger holds {row.Id} {row.Source}->{row.Destination} {row.Amount.ToString(CultureInfo.InvariantCulture)}");
            }
        }
    }

    private void CheckEntries(Dictionary<string, List<BankEntry>> byKey, Dictionary<string, BankTransfer> sent)
    {
        foreach (var (key, rows) in byKey)
        {
            if (rows.Count > 1)
            {
                Duplicated++;
                Violate($"duplicated: {key} is in the ledger {rows.Count.ToString(CultureInfo.InvariantCulture)} times ({string.Join(", ", rows.Select(r => r.Id))})");
            }

            if (!sent.TryGetValue(key, out var transfer))
            {
                Phantom++;
                Violate($"phantom: the ledger holds {key} ({rows[0].Id}), which no client sent");
            }
            else if (transfer.Outcome is BankOutcome.Refused or BankOutcome.Unexpected)
            {
                AppliedButRefused++;
                Violate($"applied but refused: {key} is in the ledger as {rows[0].Id}, the client was told {transfer.LastAnswer}");
            }
            else if (transfer.Outcome is BankOutcome.Indeterminate or BankOutcome.Pending)
            {
                UnacknowledgedButApplied++;
            }
        }
    }

    /// <summary>A transfer's key is written in its transaction, with its answer: stored exactly when the entry is, naming the same transfer.</summary>
    private void CheckKeys(Dictionary<string, List<BankEntry>> byKey, Dictionary<string, (string Outcome, string Body)> keys)
    {
        foreach (var (key, rows) in byKey)
        {
            if (!keys.TryGetValue(key, out var stored))
            {
                KeyMismatches++;
                Violate($"{key} is in the ledger as {rows[0].Id} but its Idempotency-Key was not stored");
            }
            else if (stored.Outcome != "created" || JsonDocument.Parse(stored.Body).RootElement.GetProperty("id").GetString() != rows[0].Id)
            {
                KeyMismatches++;
                Violate($"{key} is in the ledger as {rows[0].Id} but its stored answer is {stored.Outcome} {stored.Body}");
            }
        }

        foreach (var (key, stored) in keys.Where(k => k.Value.Outcome == "created" && !byKey.ContainsKey(k.Key)))
        {
            KeyMismatches++;
            Violate($"{key} has a stored creation ({stored.Body}) but no entry");
        }
    }

    /// <summary>Each wallet: funded, plus every acknowledged transfer, plus those applied unacknowledged; nothing else.</summary>
    private void CheckBalances(
        Dictionary<string, List<BankEntry>> byKey, Dictionary<string, BankTransfer> sent, Dictionary<string, long> balances, string[] wallets, long fundedPerWallet)
    {
        var expected = wallets.ToDictionary(w => w, _ => fundedPerWallet, StringComparer.Ordinal);
        var applied = sent.Values.Where(t => t.Outcome == BankOutcome.Acknowledged
            || (t.Outcome is BankOutcome.Indeterminate or BankOutcome.Pending && byKey.ContainsKey(t.Key)));
        foreach (var transfer in applied)
        {
            expected[transfer.Source] -= transfer.Amount;
            expected[transfer.Destination] += transfer.Amount;
        }

        foreach (var wallet in wallets)
        {
            var actual = balances.TryGetValue(wallet, out var balance) ? balance : (long?)null;
            if (actual != expected[wallet])
            {
                BalanceMismatches++;
                Violate($"wallet {wallet} holds {actual?.ToString(CultureInfo.InvariantCulture) ?? "nothing"}, " +
                    $"the acknowledged transfers make it {expected[wallet].ToString(CultureInfo.InvariantCulture)}");
            }
        }
    }

    private void Violate(string violation)
    {
        ViolationCount++;
        if (_violations.Count < ViolationsKeptMax)
        {
            _violations.Add(violation);
        }
    }
}
