using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace ResumableUpload.Testing.Shared;

/// <summary>
/// Runs a Node.js script of a test project (the browser driver, the tus-js-client driver) as a child process with a
/// time limit, and hands back its exit code and output. Linked into each test project that drives Node.
/// </summary>
internal static class NodeScript
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, IEnumerable<string> arguments, TimeSpan timeout, string whenNodeIsMissing)
    {
        var startInfo = new ProcessStartInfo("node")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"Could not start node ({e.Message}). {whenNodeIsMissing}");
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var limit = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                Assert.Fail($"node {string.Join(' ', startInfo.ArgumentList)} did not finish within {timeout}." + Environment.NewLine +
                            "stdout:" + Environment.NewLine + await stdout + Environment.NewLine +
                            "stderr:" + Environment.NewLine + await stderr);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
