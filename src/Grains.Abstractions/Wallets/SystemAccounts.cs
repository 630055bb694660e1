namespace Wallet.Grains.Wallets;

/// <summary>
/// The accounts every tenant has in every currency it uses. Clients name them <c>@treasury</c> and
/// so on; internally each is a wallet row whose id is <see cref="WalletId"/>.
/// </summary>
public static class SystemAccounts
{
    public const string Treasury = "treasury";
    public const string Revenue = "revenue";
    public const string Promotions = "promotions";
    public const string Settlement = "settlement";
    public const string Fees = "fees";

    public static IReadOnlyList<string> Names { get; } = [Treasury, Revenue, Promotions, Settlement, Fees];

    /// <summary>
    /// The treasury (deposits) and promotions (bonuses) issue money, so they may go negative (down
    /// to their budget, when an operator set one); what the others hold came from somewhere, so they may not.
    /// </summary>
    public static bool MayGoNegative(string name) => name is Treasury or Promotions;

    /// <summary>Whether <paramref name="walletId"/> is a system account that issues money.</summary>
    public static bool IssuesMoney(string walletId) => IsSystemWalletId(walletId) && MayGoNegative(Display(walletId)[1..]);

    /// <summary>Reads "@treasury" as "treasury"; false for a wallet id or an unknown name.</summary>
    public static bool TryParseReference(string reference, out string name)
    {
        name = reference.Length > 1 && reference[0] == '@' ? reference[1..] : "";
        return Names.Contains(name);
    }

    public static bool IsReference(string reference) => reference.StartsWith('@');

    public static string WalletId(string tenantId, string name, string currency) => $"sys:{tenantId}:{name}:{currency}";

    public static bool IsSystemWalletId(string walletId) => walletId.StartsWith("sys:", StringComparison.Ordinal);

    /// <summary>How a wallet id is shown to clients: "@revenue" for a system account, the id otherwise.</summary>
    public static string Display(string walletId)
    {
        if (!IsSystemWalletId(walletId))
        {
            return walletId;
        }

        var parts = walletId.Split(':');
        return "@" + parts[^2];
    }
}
