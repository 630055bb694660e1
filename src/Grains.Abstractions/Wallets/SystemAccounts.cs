namespace Wallet.Grains.Wallets;

/// <summary>
/// The accounts every tenant has in every currency it uses, and those it adds (custom accounts,
/// <c>POST /v1/accounts</c>, in one asset each). Clients name them <c>@treasury</c>,
/// <c>@marketing</c> and so on; internally each is a wallet row whose id is <see cref="WalletId"/>.
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

    public const int CustomNameLengthMax = 32;

    /// <summary>
    /// Reads "@treasury" as "treasury", and "@marketing" as "marketing": a built-in account's name or
    /// one a custom account may have (whether the tenant has it is the ledger's to say). False for a
    /// wallet id or a name no account may have.
    /// </summary>
    public static bool TryParseReference(string reference, out string name)
    {
        name = reference.Length > 1 && reference[0] == '@' ? reference[1..] : "";
        return IsBuiltIn(name) || IsCustomName(name);
    }

    public static bool IsBuiltIn(string name) => Names.Contains(name);

    /// <summary>Why <paramref name="reference"/> names no account: the detail of the problem that says so.</summary>
    public static string NotAnAccount(string reference) =>
        $"{reference} is not a system account: use one of {string.Join(", ", Names.Select(n => "@" + n))} or one added with POST /v1/accounts";

    /// <summary>A name a custom account may have: 2 to 32 lower-case letters, digits and underscores, from a letter, and no built-in account's.</summary>
    public static bool IsCustomName(string name) =>
        name.Length is >= 2 and <= CustomNameLengthMax && char.IsAsciiLetterLower(name[0])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && !IsBuiltIn(name);

    /// <summary>Whether <paramref name="walletId"/> is a custom account's (whose row may not exist: the ledger checks).</summary>
    public static bool IsCustomWalletId(string walletId) => IsSystemWalletId(walletId) && IsCustomName(Display(walletId)[1..]);

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
