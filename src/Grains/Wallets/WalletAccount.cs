using Orleans;
using Wallet.Grains.Transactions;

namespace Wallet.Grains.Wallets;

/// <summary>
/// A user wallet's money as an Orleans transactional state: its balance, what its open holds keep,
/// its status and its version (the wallet row's), with the ledger rows of its movements that are
/// not known to be written yet (see <see cref="ILedgerCarrier"/>). Nothing changes a wallet's
/// balance but a transaction on this state.
/// </summary>
/// <remarks>
/// A wallet whose state was never stored starts from its row (<see cref="Seed"/>), in the first
/// transaction that writes it: wallets are created, and were moved before this state existed, by
/// plain SQL.
/// </remarks>
[GenerateSerializer, Alias("wallet.WalletAccount")]
internal sealed class WalletAccount : ILedgerCarrier
{
    /// <summary>Null until the state is seeded from the wallet row.</summary>
    [Id(0)]
    public string? WalletId { get; set; }

    [Id(1)]
    public long Balance { get; set; }

    [Id(2)]
    public long Pending { get; set; }

    /// <summary>The wallet row's version as of this state's newest row.</summary>
    [Id(3)]
    public long Version { get; set; }

    [Id(4)]
    public string Status { get; set; } = WalletStatuses.Active;

    [Id(5)]
    public Dictionary<string, HoldRecord> Holds { get; set; } = [];

    [Id(6)]
    public List<LedgerRow> Rows { get; set; } = [];

    public bool Seeded => WalletId is not null;

    public IReadOnlyList<LedgerRow> UnwrittenRows => Rows;

    public LedgerPosition? Position => WalletId is null ? null : new LedgerPosition(WalletId, Version, Balance, Pending);

    /// <summary>Takes the wallet row's money as it stands, once, before the first movement.</summary>
    public void Seed(WalletState row)
    {
        if (Seeded)
        {
            return;
        }

        WalletId = row.Id;
        Balance = row.Balance;
        Pending = row.Pending;
        Version = row.LoadedVersion;
        Status = row.Status;
        Holds = new Dictionary<string, HoldRecord>(row.Holds);
    }

    /// <summary>The wallet row's static facts with this state's money: what rules and views read.</summary>
    public WalletState With(WalletState row)
    {
        var wallet = row.WithHolds(Holds);
        wallet.Balance = Balance;
        wallet.Pending = Pending;
        wallet.Status = Status;
        return wallet;
    }

    /// <summary>
    /// Appends the row of one movement of this wallet: <paramref name="amount"/> posted (0 when only
    /// its pending or status moves), under the next version, as part of entry <paramref name="entryId"/> (none: null), with what the caller decided already
    /// applied to <see cref="Balance"/>, <see cref="Pending"/>, <see cref="Status"/> and <see cref="Holds"/>.
    /// Rows the ledger holds already (at or below <paramref name="writtenUpTo"/>) go.
    /// </summary>
    public LedgerRow Append(string transactionId, long writtenUpTo, string currency, string? entryId, long amount, Func<LedgerRow, LedgerRow>? carry = null)
    {
        ForgetWritten(writtenUpTo);
        Version++;
        // A row of no entry (a hold's placement, a status change) is named after the wallet and version.
        var row = new LedgerRow(transactionId, Version, WalletId!, amount, currency, Balance, Pending, entryId ?? $"{WalletId}@{Version}") { Status = Status };
        row = carry is null ? row : carry(row);
        Rows.Add(row);
        return row;
    }

    public void ForgetWritten(long writtenUpTo) => Rows.RemoveAll(r => r.Version <= writtenUpTo);
}
