using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Wallet.Api.Auth;

/// <summary>
/// TOTP secrets at rest: sealed with AES-GCM under a key derived from <see cref="AuthOptions.MfaKey"/>,
/// the person's id bound in as associated data (a sealed secret moved to another person does not open).
/// </summary>
public sealed class MfaSecrets(IOptions<AuthOptions> options)
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private byte[] Key => SHA256.HashData(Encoding.UTF8.GetBytes("wallet-mfa-secret\n" + options.Value.MfaKey));

    public string Seal(string userId, byte[] secret)
    {
        var sealedBytes = new byte[NonceBytes + TagBytes + secret.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(Key, TagBytes);
        aes.Encrypt(nonce, secret, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), Encoding.UTF8.GetBytes(userId));
        return Convert.ToBase64String(sealedBytes);
    }

    public byte[] Open(string userId, string sealedText)
    {
        var sealedBytes = Convert.FromBase64String(sealedText);
        var secret = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(Key, TagBytes);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), secret,
            Encoding.UTF8.GetBytes(userId));
        return secret;
    }
}
