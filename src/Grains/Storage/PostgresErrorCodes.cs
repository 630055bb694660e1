namespace Wallet.Grains.Storage;

/// <summary>The SQLSTATE codes the stores decide on. Never match on message text.</summary>
internal static class PostgresErrorCodes
{
    public const string UniqueViolation = "23505";
    public const string CheckViolation = "23514";
}
