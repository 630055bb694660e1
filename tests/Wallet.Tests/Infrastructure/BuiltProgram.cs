using System.Diagnostics;
using Xunit.Abstractions;

namespace Wallet.Tests.Infrastructure;

/// <summary>Runs a program of this repository (the bench, a sample) as <c>dotnet its.dll args</c> and collects what it printed.</summary>
internal static class BuiltProgram
{
    /// <summary>Runs <paramref name="dll"/> to its end, or kills it after <paramref name="timeout"/>; writes its output to <paramref name="output"/>.</summary>
    public static async Task<(int ExitCode, string Text)> RunAsync(string dll, IEnumerable<string> arguments, TimeSpan timeout, ITestOutputHelper output)
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", [dll, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var text = await stdout;
        output.WriteLine(text);
        output.WriteLine(await stderr);
        return (process.ExitCode, text);
    }
}
