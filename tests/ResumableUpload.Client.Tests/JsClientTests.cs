using System.Text.RegularExpressions;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Client.Tests;

/// <summary>
/// Runs the browser package's Node.js test files (clients/js/test, node:test) against the real sample server, so their
/// results land in this test run. Needs `npm ci` and `npm run build` in clients/js (bash eng/test.sh does both).
/// </summary>
public sealed partial class JsClientTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Fact]
    public Task NodeTests_EveryProtocolPauseResume413RefusalAndConcurrency_Pass() => RunAsync("test/client.test.mjs", TimeSpan.FromMinutes(3));

    [Fact]
    public Task NodeTests_1GiBPerProtocolThroughADroppingProxyAndASampleRestart_AreStoredIntact() => RunAsync("test/large.test.mjs", TimeSpan.FromMinutes(9));

    private static async Task RunAsync(string file, TimeSpan limit)
    {
        var package = Path.Combine(Root, "clients", "js");
        File.Exists(Path.Combine(package, "dist", "index.js")).Should().BeTrue(
            $"the package must be built first: run `npm ci && npm run build` in {package} (bash eng/test.sh does it)");
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/<configuration>/net10.0/
        var sample = Path.Combine(Root, "samples", "ResumableUpload.Sample", "bin", configuration, "net10.0", "ResumableUpload.Sample.dll");
        File.Exists(sample).Should().BeTrue($"the sample must be built ({sample})");
        Environment.SetEnvironmentVariable("SAMPLE_DLL", sample);

        var (exit, stdout, stderr) = await NodeScript.RunAsync(package, ["--test", "--test-reporter=tap", file], limit,
            "Install Node.js 20 or later (bash eng/test.sh does it).");

        var passed = PassCount().Match(stdout);
        var failed = FailCount().Match(stdout);
        (exit == 0 && failed.Success && failed.Groups[1].Value == "0" && passed.Success && int.Parse(passed.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0)
            .Should().BeTrue($"node --test {file} must pass (exit {exit}).{Environment.NewLine}{stdout}{Environment.NewLine}{stderr}");
    }

    [GeneratedRegex(@"^# pass (\d+)", RegexOptions.Multiline)]
    private static partial Regex PassCount();

    [GeneratedRegex(@"^# fail (\d+)", RegexOptions.Multiline)]
    private static partial Regex FailCount();

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Middleware.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);
    }
}
