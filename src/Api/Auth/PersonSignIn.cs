using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Wallet.Api.Infrastructure;
using Wallet.Grains;
using Wallet.Grains.Auth;

namespace Wallet.Api.Auth;

public enum SignInStep
{
    /// <summary>A wrong email, password or code, or a locked account: one answer for all of them.</summary>
    Refused,

    /// <summary>Too many attempts on this account this minute.</summary>
    Limited,

    /// <summary>The password is right; the person has a second factor still to give.</summary>
    NeedsCode,

    /// <summary>The person proved who they are.</summary>
    Passed,
}

/// <summary>Where a sign-in stands after a step: its person once the password was right, and for <see cref="SignInStep.Limited"/> when to come back.</summary>
public sealed record SignInCheck(SignInStep Step, UserView? User = null, TimeSpan RetryAfter = default);

/// <summary>
/// A person proving who they are: the password, then the second factor when they have one (an
/// authenticator's code, each once, or a recovery code, each once). Wrong passwords and codes count
/// toward the lockout. The API's sign-in and the dashboard's both take these steps.
/// </summary>
public sealed class PersonSignIn(UserStore users, MfaStore mfa, MfaSecrets secrets, SignInLimiter limiter, IOptions<AuthOptions> options, TimeProvider clock)
{
    // A hash of nothing anyone knows: checked against when the email has no account, so that both answers take as long.
    private static readonly string AbsentHash = new PasswordHasher<UserView>().HashPassword(null!, Guid.NewGuid().ToString("N"));

    /// <summary>An email as accounts are kept under it: trimmed, in lower case.</summary>
    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();

    /// <summary>The first step: the email (as typed: it is normalized here) and the password.</summary>
    public async Task<SignInCheck> PasswordAsync(string email, string password, CancellationToken cancellationToken)
    {
        email = NormalizeEmail(email);
        using var attempt = limiter.Attempt("email:" + email);
        if (!attempt.IsAcquired)
        {
            return Limited(attempt);
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        var hasher = new PasswordHasher<UserView>();
        var found = await users.FindCredentialsAsync(email, cancellationToken);
        if (found is not { PasswordHash: { } hash, User.Status: UserView.Active } credentials)
        {
            hasher.VerifyHashedPassword(null!, AbsentHash, password);
            return new SignInCheck(SignInStep.Refused);
        }

        var verdict = hasher.VerifyHashedPassword(credentials.User, hash, password);
        if (credentials.LockedUntil > now)
        {
            // Locked: the same answer as a wrong password, and no count of it (the lock ends when it said).
            return new SignInCheck(SignInStep.Refused);
        }

        if (verdict == PasswordVerificationResult.Failed)
        {
            await RecordFailureAsync(credentials.User, now, cancellationToken);
            return new SignInCheck(SignInStep.Refused);
        }

        return new SignInCheck(credentials.MfaSecret is null ? SignInStep.Passed : SignInStep.NeedsCode, credentials.User);
    }

    /// <summary>The second factor of <paramref name="userId"/>, whose password was right a moment ago.</summary>
    public async Task<SignInCheck> CodeAsync(string userId, string code, CancellationToken cancellationToken)
    {
        using var attempt = limiter.Attempt("user:" + userId);
        if (!attempt.IsAcquired)
        {
            return Limited(attempt);
        }

        var now = LedgerTime.Truncate(clock.GetUtcNow());
        if (await users.FindCredentialsByIdAsync(userId, cancellationToken) is not { MfaSecret: { } sealedSecret, User.Status: UserView.Active } credentials
            || credentials.LockedUntil > now)
        {
            return new SignInCheck(SignInStep.Refused);
        }

        var user = credentials.User;
        var taken = Mfa.TryStep(secrets.Open(user.Id, sealedSecret), code, clock, out var step)
            ? await mfa.TakeMfaStepAsync(user.Id, step, cancellationToken)
            : await mfa.UseRecoveryCodeAsync(user, Mfa.RecoveryHash(code), now, cancellationToken);
        if (!taken)
        {
            await RecordFailureAsync(user, now, cancellationToken);
            return new SignInCheck(SignInStep.Refused);
        }

        return new SignInCheck(SignInStep.Passed, user);
    }

    private Task RecordFailureAsync(UserView user, DateTimeOffset now, CancellationToken cancellationToken) =>
        users.RecordFailureAsync(user, options.Value.LockoutFailures, now.AddMinutes(options.Value.LockoutMinutes), now, cancellationToken);

    private static SignInCheck Limited(RateLimitLease lease) =>
        new(SignInStep.Limited, RetryAfter: lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1));
}
