using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Sample.Tests;

/// <summary>
/// Runs <c>browser/e2e.mjs</c>: Node with the npm package playwright-core drives Debian's Chromium
/// through one of the sample's pages and prints a JSON result as its last line.
/// </summary>
internal static class BrowserDriver
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromMinutes(3);

    /// <summary>The Chromium the script launches (the script reads the same variable).</summary>
    public static string ChromiumPath =>
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>
    /// <c>tests/ResumableUpload.Sample.Tests/browser</c> in the source tree, found by walking up from the
    /// test assembly (bin/&lt;configuration&gt;/&lt;tfm&gt;/), since <c>npm ci</c> installs its node_modules there.
    /// </summary>
    public static string BrowserDirectory { get; } = FindBrowserDirectory();

    /// <summary>
    /// Why the browser tests cannot run, with the commands that fix it; <see langword="null"/> when
    /// everything they need is installed.
    /// </summary>
    public static string? MissingPrerequisites()
    {
        var problems = new List<string>();
        if (!File.Exists(Path.Combine(BrowserDirectory, "e2e.mjs")))
        {
            problems.Add($"The browser test script is missing: expected {Path.Combine(BrowserDirectory, "e2e.mjs")}.");
        }

        if (!File.Exists(Path.Combine(BrowserDirectory, "node_modules", "playwright-core", "package.json")))
        {
            problems.Add(
                $"The npm package playwright-core is not installed in {BrowserDirectory}. " +
                $"Install it with: cd {BrowserDirectory} && npm ci");
        }

        if (!File.Exists(ChromiumPath))
        {
            problems.Add(
                $"Chromium is not installed at {ChromiumPath}. " +
                "Install Debian's Chromium with: apt-get update && apt-get install -y chromium");
        }

        if (FindOnPath("node") is null)
        {
            problems.Add("Node.js (node) is not on PATH. Install it with: apt-get install -y nodejs npm");
        }

        return problems.Count == 0
            ? null
            : "The browser end-to-end tests cannot run:" + Environment.NewLine + string.Join(Environment.NewLine, problems);
    }

    /// <summary>Runs a scenario ("classic", "index", "dropped" or "tus") against <paramref name="baseAddress"/> with <paramref name="file"/>.</summary>
    public static async Task<BrowserRun> RunScenarioAsync(Uri baseAddress, string file, string scenario, string? screenshot = null)
    {
        if (MissingPrerequisites() is { } missing)
        {
            Assert.Fail(missing);
        }

        List<string> arguments = ["e2e.mjs", baseAddress.ToString(), file, scenario];
        if (screenshot is not null)
        {
            arguments.Add("--screenshot");
            arguments.Add(screenshot);
        }

        var (exitCode, stdout, stderr) = await NodeScript.RunAsync(BrowserDirectory, arguments, ScenarioTimeout, "Install Node.js with: apt-get install -y nodejs npm");
        return BrowserRun.Parse(exitCode, stdout, stderr);
    }

    private static string FindBrowserDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "browser");
            if (File.Exists(Path.Combine(candidate, "e2e.mjs")) &&
                File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Sample.Tests.csproj")))
            {
                return candidate;
            }

            candidate = Path.Combine(directory.FullName, "tests", "ResumableUpload.Sample.Tests", "browser");
            if (File.Exists(Path.Combine(candidate, "e2e.mjs")))
            {
                return candidate;
            }
        }

        // Not found: report the place it should be, relative to the usual bin/<configuration>/<tfm>/ layout.
        return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "browser"));
    }

    private static string? FindOnPath(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                   .Select(directory => Path.Combine(directory, program))
                   .FirstOrDefault(File.Exists);
    }
}

/// <summary>What one run of <c>e2e.mjs</c> printed and reported.</summary>
internal sealed class BrowserRun
{
    private BrowserRun(int exitCode, string stdout, string stderr, JsonElement? result)
    {
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
        Result = result;
    }

    public int ExitCode { get; }

    public string Stdout { get; }

    public string Stderr { get; }

    /// <summary>The JSON object on the last line of stdout, if there was one.</summary>
    public JsonElement? Result { get; }

    public bool Ok => Result is { } r && r.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True;

    public string? Error => String("error");

    public string FileId => String("fileId") ?? throw new InvalidOperationException("The result has no fileId." + Environment.NewLine + Describe());

    public long Number(string name) =>
        Result is { } r && r.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetInt64()
            : throw new InvalidOperationException($"The result has no number \"{name}\"." + Environment.NewLine + Describe());

    public string? String(string name) =>
        Result is { } r && r.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Everything the run printed, for assertion messages.</summary>
    public string Describe() =>
        $"exit code {ExitCode}" + Environment.NewLine +
        "stdout:" + Environment.NewLine + Stdout + Environment.NewLine +
        "stderr:" + Environment.NewLine + Stderr;

    public static BrowserRun Parse(int exitCode, string stdout, string stderr)
    {
        var lastLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        JsonElement? result = null;
        if (lastLine is not null && lastLine.StartsWith('{'))
        {
            try
            {
                using var document = JsonDocument.Parse(lastLine);
                result = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Left null: the assertions report the raw output.
            }
        }

        return new BrowserRun(exitCode, stdout, stderr, result);
    }
}
