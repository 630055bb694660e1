using System.Runtime.CompilerServices;

namespace Wallet.Tests.Infrastructure;

/// <summary>Where the repository is, for tests that read its files (the README) or leave artifacts in it.</summary>
public static class RepositoryPaths
{
    /// <summary>
    /// The folder holding Wallet.sln above the test assembly, or, when the build output lives elsewhere
    /// (<c>--artifacts-path</c>), above this source file.
    /// </summary>
    public static string Root([CallerFilePath] string sourceFile = "") =>
        Find(AppContext.BaseDirectory) ?? Find(Path.GetDirectoryName(sourceFile))
        ?? throw new InvalidOperationException($"Wallet.sln not found above {AppContext.BaseDirectory} or {sourceFile}");

    /// <summary><c>artifacts/</c> at the repository root, where test reports and screenshots go.</summary>
    public static string Artifacts(params string[] parts) => Path.Combine([Root(), "artifacts", .. parts]);

    private static string? Find(string? start)
    {
        for (var directory = start is null ? null : new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Wallet.sln")))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
