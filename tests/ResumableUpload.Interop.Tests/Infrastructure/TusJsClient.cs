using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Interop.Tests.Infrastructure;

/// <summary>
/// Runs <c>tus-js/scenario.mjs</c>: Node.js drives the real tus-js-client (installed by <c>npm ci</c> in
/// <c>tests/ResumableUpload.Interop.Tests/tus-js</c>) against a host and prints one JSON line with the result.
/// </summary>
internal static class TusJsClient
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromMinutes(2);

    /// <summary><c>tests/ResumableUpload.Interop.Tests/tus-js</c> in the source tree, found by walking up from the test assembly.</summary>
    public static string ScriptDirectory { get; } = FindScriptDirectory();

    public static async Task<ScenarioResult> RunAsync(Uri endpoint, string scenario, string file, params string[] options)
    {
        FailWhenPrerequisitesAreMissing();
        var (exitCode, stdout, stderr) = await NodeScript.RunAsync(
            ScriptDirectory,
            ["scenario.mjs", endpoint.ToString(), scenario, file, .. options],
            ScenarioTimeout,
            "The tus interop tests need Node.js 20+ on PATH (apt-get install -y nodejs npm).");
        return ScenarioResult.Parse(scenario, exitCode, stdout, stderr);
    }

    private static void FailWhenPrerequisitesAreMissing()
    {
        var script = Path.Combine(ScriptDirectory, "scenario.mjs");
        if (!File.Exists(script))
        {
            Assert.Fail($"The tus-js-client driver script is missing: expected {script}.");
        }

        if (!File.Exists(Path.Combine(ScriptDirectory, "node_modules", "tus-js-client", "package.json")))
        {
            Assert.Fail(
                $"The npm package tus-js-client is not installed in {ScriptDirectory}. " +
                $"Install it with: cd {ScriptDirectory} && npm ci");
        }
    }

    private static string FindScriptDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tus-js");
            if (File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Interop.Tests.csproj")) &&
                File.Exists(Path.Combine(candidate, "scenario.mjs")))
            {
                return candidate;
            }

            candidate = Path.Combine(directory.FullName, "tests", "ResumableUpload.Interop.Tests", "tus-js");
            if (File.Exists(Path.Combine(candidate, "scenario.mjs")))
            {
                return candidate;
            }
        }

        // Not found: name where it should be for the usual bin/<configuration>/<tfm>/ layout.
        return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "tus-js"));
    }
}

/// <summary>The JSON line one run of <c>scenario.mjs</c> printed, with its process output for assertion messages.</summary>
internal sealed class ScenarioResult
{
    private ScenarioResult(string scenario, int exitCode, string stdout, string stderr, JsonElement? root)
    {
        Scenario = scenario;
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
        Root = root;
    }

    public string Scenario { get; }

    public int ExitCode { get; }

    public string Stdout { get; }

    public string Stderr { get; }

    public JsonElement? Root { get; }

    public bool Ok => Root is { } r && r.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True;

    /// <summary>The upload URL's path (e.g. <c>/files/3f2a…</c>).</summary>
    public string Url => String("url") ?? throw new InvalidOperationException("The result has no url." + Environment.NewLine + Describe());

    public IReadOnlyList<JsonElement> Requests =>
        Root is { } r && r.TryGetProperty("requests", out var list) && list.ValueKind == JsonValueKind.Array ? [.. list.EnumerateArray()] : [];

    public string? String(string name) => Property(name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    public long Number(string name) =>
        Property(name) is { ValueKind: JsonValueKind.Number } v
            ? v.GetInt64()
            : throw new InvalidOperationException($"The result has no number \"{name}\"." + Environment.NewLine + Describe());

    public bool Bool(string name) => Property(name) is { ValueKind: JsonValueKind.True };

    public JsonElement? Property(string name) =>
        Root is { } r && r.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>The requests of the run with one method, in order.</summary>
    public IReadOnlyList<JsonElement> RequestsOf(string method) =>
        [.. Requests.Where(r => r.TryGetProperty("method", out var m) && m.GetString() == method)];

    /// <summary>Everything the run reported, for assertion messages: the error, each request/response, stderr.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"scenario {Scenario}, node exit code {ExitCode}").AppendLine();
        if (Root is not { } root)
        {
            return text.AppendLine("stdout:").AppendLine(Stdout).AppendLine("stderr:").AppendLine(Stderr).ToString();
        }

        if (Property("error") is { } error)
        {
            text.Append("error: ").AppendLine(error.GetRawText());
        }

        foreach (var request in Requests)
        {
            text.Append("  ").AppendLine(request.GetRawText());
        }

        if (!string.IsNullOrWhiteSpace(Stderr))
        {
            text.AppendLine("stderr:").AppendLine(Stderr.Length > 4000 ? Stderr[..4000] : Stderr);
        }

        return text.ToString();
    }

    public static ScenarioResult Parse(string scenario, int exitCode, string stdout, string stderr)
    {
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        JsonElement? root = null;
        if (line is not null)
        {
            try
            {
                using var document = JsonDocument.Parse(line);
                root = document.RootElement.Clone();
            }
            catch (JsonException)
            {
            }
        }

        return new ScenarioResult(scenario, exitCode, stdout, stderr, root);
    }
}

/// <summary>A file of random bytes in a temp folder, deleted on dispose.</summary>
internal sealed class TestFile : IDisposable
{
    private TestFile(string path, byte[] bytes)
    {
        Path = path;
        Bytes = bytes;
    }

    public string Path { get; }

    public byte[] Bytes { get; }

    public long Length => Bytes.Length;

    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Bytes));

    public static TestFile Create(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ru-interop-tests", "files");
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, Guid.NewGuid().ToString("N") + ".bin");
        File.WriteAllBytes(path, bytes);
        return new TestFile(path, bytes);
    }

    public void Dispose()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
