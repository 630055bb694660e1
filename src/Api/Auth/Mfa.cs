using System.Security.Cryptography;
using OtpNet;
using QRCoder;
using Wallet.Grains.Auth;

namespace Wallet.Api.Auth;

/// <summary>
/// The second factor: TOTP as RFC 6238 has it (HMAC-SHA1, 6 digits, 30-second steps, a 160-bit
/// secret), a code of the step before or after taken too (clocks drift), and recovery codes.
/// </summary>
public static class Mfa
{
    public const int RecoveryCodeCount = 10;

    private const int SecretBytes = 20;

    public static byte[] NewSecret() => KeyGeneration.GenerateRandomKey(SecretBytes);

    /// <summary>The secret as an authenticator app takes it: base32, and an <c>otpauth://</c> URI.</summary>
    public static (string Secret, string Uri) Describe(byte[] secret, string issuer, string account)
    {
        var text = Base32Encoding.ToString(secret);
        var label = Uri.EscapeDataString($"{issuer}:{account}");
        return (text, $"otpauth://totp/{label}?secret={text}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period=30");
    }

    /// <summary>The URI as a QR code: a PNG, base64.</summary>
    public static string QrPng(string uri)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(uri, QRCodeGenerator.ECCLevel.M);
        return Convert.ToBase64String(new PngByteQRCode(data).GetGraphic(5));
    }

    /// <summary>Whether <paramref name="code"/> is the secret's code now (or a step either side), and which step it is.</summary>
    public static bool TryStep(byte[] secret, string code, TimeProvider clock, out long step)
    {
        step = 0;
        return code.Length == 6 && code.All(char.IsAsciiDigit)
            && new Totp(secret).VerifyTotp(clock.GetUtcNow().UtcDateTime, code, out step, new VerificationWindow(previous: 1, future: 1));
    }

    /// <summary>Ten recovery codes, each 50 random bits written as two groups of five base32 letters and digits.</summary>
    public static List<string> NewRecoveryCodes() =>
        [.. Enumerable.Range(0, RecoveryCodeCount).Select(_ =>
        {
            var text = Base32Encoding.ToString(RandomNumberGenerator.GetBytes(7))[..10].ToLowerInvariant();
            return $"{text[..5]}-{text[5..]}";
        })];

    /// <summary>A recovery code as stored: its hash, read without case, spaces or dashes.</summary>
    public static string RecoveryHash(string code) =>
        UserStore.Hash(new string(code.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray()));
}
