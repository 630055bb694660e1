using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace Wallet.Api.Auth;

/// <summary>
/// What a new password must be: at least <see cref="AuthOptions.PasswordLengthMin"/> characters (at
/// most 128), not one of the commonest passwords (shipped in <c>common-passwords.txt</c>), not one
/// of them with digits or symbols around it, not one character or a run of the keyboard over and
/// over, and not the person's email or its name part.
/// </summary>
public sealed class PasswordPolicy(IOptions<AuthOptions> options)
{
    public const int LengthMax = 128;

    private static readonly FrozenSet<string> Common = Load();

    /// <summary>Why <paramref name="password"/> will not do for <paramref name="email"/>; null when it will.</summary>
    public string? Check(string password, string email)
    {
        var lengthMin = options.Value.PasswordLengthMin;
        if (password.Length < lengthMin || password.Length > LengthMax)
        {
            return $"a password has {lengthMin} to {LengthMax} characters";
        }

        var lower = password.ToLowerInvariant();
        var core = lower.Trim("0123456789!@#$%^&*()-_=+.,?~ ".ToCharArray());
        if (Common.Contains(lower) || Common.Contains(core) || core.Length == 0)
        {
            return "that password is among the commonest ones (or one with digits or symbols added); choose another";
        }

        if (lower.Distinct().Count() <= 2)
        {
            return "a password of one or two characters over and over is guessed at once; choose another";
        }

        var name = email.Split('@')[0].ToLowerInvariant();
        if ((email.Length > 0 && lower.Contains(email.ToLowerInvariant(), StringComparison.Ordinal))
            || (name.Length >= 4 && core.Contains(name, StringComparison.Ordinal) && core.Length <= name.Length + 2))
        {
            return "a password must not be the email address or its name; choose another";
        }

        return null;
    }

    private static FrozenSet<string> Load()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("Wallet.Api.Auth.common-passwords.txt")
                           ?? throw new InvalidOperationException("the list of common passwords is missing from the assembly");
        using var reader = new StreamReader(stream);
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && line[0] != '#')
            {
                words.Add(line.Trim());
            }
        }

        return words.ToFrozenSet(StringComparer.Ordinal);
    }
}
