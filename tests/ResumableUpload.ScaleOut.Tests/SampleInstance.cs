using System.Globalization;
using System.Net.Http;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>
/// One instance of the sample app (its own build output, <c>dotnet ResumableUpload.Sample.dll</c>) on a free loopback
/// port, configured only through command-line configuration, as an operator would run it.
/// </summary>
internal sealed class SampleInstance : IAsyncDisposable
{
    private readonly ServerProcess _process;

    private SampleInstance(string name, int port, ServerProcess process)
    {
        Name = name;
        Port = port;
        _process = process;
    }

    public string Name { get; }

    public int Port { get; }

    public bool IsAlive => !_process.HasExited;

    public string Output => _process.Output;

    /// <summary>Whether this instance's log shows it started serving a POST to /upload (the request-start log line of ASP.NET Core's hosting).</summary>
    public bool HasReceivedUpload => _process.Output.Contains("POST", StringComparison.Ordinal) && _process.Output.Contains("/upload", StringComparison.Ordinal);

    public static async Task<SampleInstance> StartAsync(string name, IEnumerable<string> configuration)
    {
        var dll = LocateSample();
        var port = ServerProcess.FreePort();
        var arguments = new List<string>
        {
            dll,
            "--urls", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            // The request-start line tells the test which instance receives a body.
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information",
            "--Logging:Console:FormatterName=simple",
            "--Logging:Console:FormatterOptions:SingleLine=true",
        };
        arguments.AddRange(configuration);

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var process = await ServerProcess.StartAsync(
            $"sample instance {name}",
            ServerProcess.Require("dotnet", "Install the .NET 10 SDK."),
            arguments,
            async ct => (await probe.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), ct)).IsSuccessStatusCode,
            TimeSpan.FromSeconds(60),
            workingDirectory: Path.GetDirectoryName(dll),
            environment: new Dictionary<string, string>
            {
                ["DOTNET_NOLOGO"] = "1",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["AWS_EC2_METADATA_DISABLED"] = "true",
            });
        return new SampleInstance(name, port, process);
    }

    /// <summary>SIGKILL: the instance dies at once, mid-request, as a crashed machine or an OOM kill would.</summary>
    public void Kill() => _process.Kill();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static string LocateSample()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Middleware.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException("The repository root (with ResumableUpload.Middleware.sln) was not found above " + AppContext.BaseDirectory);
        }

        // The configuration this test assembly was built in (bin/<Configuration>/net10.0/).
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var dll = Path.Combine(directory.FullName, "samples", "ResumableUpload.Sample", "bin", configuration, "net10.0", "ResumableUpload.Sample.dll");
        return File.Exists(dll)
            ? dll
            : throw new InvalidOperationException($"The sample is not built: {dll} is missing. Build the solution first (bash eng/test.sh does).");
    }
}
