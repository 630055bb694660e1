using System.Diagnostics;
using System.Globalization;

namespace Wallet.Tests.Infrastructure;

/// <summary>
/// The test host gets only about 100 ms for ProcessExit before the test platform kills it, and a
/// crashed or killed host runs no handler at all. So a detached shell waits for this process to
/// end, then SIGKILLs the processes listed in the folder's <c>pids</c> file if there is one (only
/// those still running a Wallet assembly: a pid may have been reused), runs the stop command and
/// deletes the folder. Harmless when the test cleaned up already.
/// </summary>
internal static class Watchdog
{
    public const string PidsFile = "pids";

    private const string Script = """
        exec </dev/null >/dev/null 2>&1
        owner=$1; folder=$2; shift 2
        (
          while kill -0 "$owner"; do sleep 0.5; done
          if [ -f "$folder/pids" ]; then
            for pid in $(cat "$folder/pids"); do
              if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'Wallet\.'; then kill -9 "$pid"; fi
            done
          fi
          "$@"
          rm -rf "$folder"
        ) &
        """;

    public static void Start(string name, string folder, IEnumerable<string> stopCommand)
    {
        var setsid = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : null;
        var startInfo = new ProcessStartInfo(setsid ?? "/bin/sh") { UseShellExecute = false };
        if (setsid is not null)
        {
            startInfo.ArgumentList.Add("/bin/sh"); // its own session: a Ctrl+C on the test run does not reach it
        }

        foreach (var argument in (IEnumerable<string>)["-c", Script, name, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), folder, .. stopCommand])
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var shell = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start /bin/sh.");
        shell.WaitForExit();
    }
}
