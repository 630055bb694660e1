using Orleans;
namespace Wallet.Grains;

/// <summary>
/// The stable problem codes of the ledger. Clients branch on these; the HTTP status for each is
/// fixed by the API (see the README's error table). Never rename one.
/// </summary>
public static class LedgerErrors
{
    public const string ValidationFailed = "validation_failed";
    public const string MalformedJson = "malformed_json";
    public const string InvalidAmount = "invalid_amount";
    public const string UnknownCurrency = "unknown_currency";
    public const string SameWallet = "same_wallet";
    public const string InvalidCursor = "invalid_cursor";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string WalletNotFound = "wallet_not_found";
    public const string TransferNotFound = "transfer_not_found";
    public const string EntryNotFound = "entry_not_found";
    public const string EntryUnbalanced = "entry_unbalanced";
    public const string NotFound = "not_found";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string Conflict = "conflict";
    public const string InsufficientFunds = "insufficient_funds";
    public const string CurrencyMismatch = "currency_mismatch";
    public const string WalletFrozen = "wallet_frozen";
    public const string WalletClosed = "wallet_closed";
    public const string LimitExceeded = "limit_exceeded";
    public const string InvalidStatusChange = "invalid_status_change";
    public const string Unavailable = "unavailable";
    public const string HoldNotFound = "hold_not_found";
    public const string HoldClosed = "hold_closed";
    public const string AmountExceedsHold = "amount_exceeds_hold";
    public const string CardNotFound = "card_not_found";
    public const string CardNumberInvalid = "card_number_invalid";
    public const string CardNumberExists = "card_number_exists";
    public const string CardFrozen = "card_frozen";
    public const string CardCancelled = "card_cancelled";
    public const string CategoryBlocked = "category_blocked";
    public const string FraudBlocked = "fraud_blocked";
    public const string AuthorizationNotFound = "authorization_not_found";
    public const string AuthorizationClosed = "authorization_closed";
    public const string AssetExists = "asset_exists";
    public const string BudgetExceeded = "budget_exceeded";
    public const string BudgetBelowIssued = "budget_below_issued";
    public const string ReceiptNotFound = "receipt_not_found";
    public const string FileTooLarge = "file_too_large";
    public const string FileTypeUnsupported = "file_type_unsupported";
    public const string FileUnreadable = "file_unreadable";
    public const string ReceiptVerified = "receipt_verified";
    public const string SourceNotFound = "source_not_found";
    public const string SourceExists = "source_exists";
    public const string RecordsRejected = "records_rejected";
    public const string RunNotFound = "run_not_found";
    public const string RunNotCompleted = "run_not_completed";
    public const string ItemNotFound = "item_not_found";
    public const string ItemResolved = "item_resolved";
    public const string ItemNotResolvable = "item_not_resolvable";
    public const string UserExists = "user_exists";
    public const string InvitationInvalid = "invitation_invalid";
    public const string PasswordRejected = "password_rejected";
    public const string RegistrationClosed = "registration_closed";
    public const string InvalidCredentials = "invalid_credentials";
    public const string InvalidToken = "invalid_token";
    public const string InvalidCode = "invalid_code";
    public const string MfaEnabled = "mfa_enabled";
    public const string MfaNotEnrolling = "mfa_not_enrolling";
    public const string ApiKeyNotFound = "api_key_not_found";
    public const string UserNotFound = "user_not_found";
    public const string ScreeningNotFound = "screening_not_found";
    public const string ComplianceReview = "compliance_review";
    public const string ScreeningResolved = "screening_resolved";
    public const string JobNotFound = "job_not_found";
    public const string DataRequestNotFound = "data_request_not_found";
    public const string OwnerNotFound = "owner_not_found";
    public const string PeriodClosed = "period_closed";
    public const string PeriodNotEnded = "period_not_ended";
    public const string AccountExists = "account_exists";

    /// <summary>
    /// Not an answer for clients: the request's Idempotency-Key was committed by another call, so
    /// the caller looks the key up and replays its answer (or reports it reused with another body).
    /// </summary>
    public const string IdempotencyKeyExists = "idempotency_key_exists";
}

/// <summary>
/// A business outcome that is not a success: a stable code and a sentence for people.
/// <see cref="Extensions"/>, when present, is JSON object text whose members the problem answer carries too.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.LedgerFailure")]
public sealed record LedgerFailure(string Code, string Detail, string? Extensions = null);
