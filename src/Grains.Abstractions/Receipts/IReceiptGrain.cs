using Orleans;

namespace Wallet.Grains.Receipts;

/// <summary>
/// One receipt, keyed by its id: drives its reading in the background until the receipt has a final
/// status. A reminder keeps it going across silo failures and restarts.
/// </summary>
[Alias("wallet.IReceiptGrain")]
public interface IReceiptGrain : IGrainWithStringKey
{
    /// <summary>Reads the receipt if it is processing (at once, or after the readings before it); returns without waiting for it.</summary>
    [Alias("Start")]
    Task Start();
}
