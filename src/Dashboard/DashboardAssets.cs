using System.Collections.Frozen;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Wallet.Dashboard;

/// <summary>The dashboard's files, embedded in this assembly (<c>wwwroot/</c>): nothing to deploy beside it, nothing fetched at run time.</summary>
internal static class DashboardAssets
{
    private static readonly FrozenDictionary<string, (byte[] Content, string ContentType)> Files = Load();

    public static IResult Result(string name) =>
        Files.TryGetValue(name, out var file) ? Results.Bytes(file.Content, file.ContentType) : Results.NotFound();

    public static string Text(string name) => Encoding.UTF8.GetString(Files[name].Content);

    private static FrozenDictionary<string, (byte[], string)> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var name = resource["wwwroot/".Length..];
            files[name] = (buffer.ToArray(), ContentType(name));
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
