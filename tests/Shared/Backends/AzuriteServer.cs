namespace ResumableUpload.Testing.Shared.Backends;

/// <summary>
/// A real Azurite (the Azure Blob Storage emulator, 3.37.0 from tools/azurite) started on 127.0.0.1 on a free port, with
/// its data in a fresh temporary directory; stopped (process tree killed, directory removed) when disposed. Exposes the
/// connection string of Azurite's well-known development account. Depends only on <see cref="ServerProcess"/>.
/// </summary>
internal sealed class AzuriteServer : IAsyncDisposable
{
    /// <summary>Azurite's built-in development account (documented by Microsoft; not a secret).</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The well-known key of <see cref="AccountName"/>.</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>A Blob service API version that Azurite 3.37 accepts (the Azure SDK 12.30 default is newer).</summary>
    public const string ServiceVersion = "2026-06-06";

    private readonly ServerProcess _process;

    private AzuriteServer(ServerProcess process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    /// <summary>The blob port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Where Azurite keeps its data.</summary>
    public string Directory { get; }

    /// <summary>The blob endpoint, <c>http://127.0.0.1:{Port}/devstoreaccount1</c>.</summary>
    public Uri BlobEndpoint => new($"http://127.0.0.1:{Port}/{AccountName}");

    /// <summary>A connection string for the development account on this server.</summary>
    public string ConnectionString => ConnectionStringFor(Port);

    /// <summary>A connection string for the development account at 127.0.0.1:<paramref name="port"/> (also for a closed port, to test failures).</summary>
    public static string ConnectionStringFor(int port)
        => $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{port}/{AccountName};";

    /// <summary>Starts Azurite and waits until its blob port accepts connections.</summary>
    public static async Task<AzuriteServer> StartAsync()
    {
        var root = FindRepositoryRoot();
        var main = Path.Combine(root, "tools", "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
        if (!File.Exists(main))
        {
            throw new InvalidOperationException($"Azurite is not installed ({main} is missing): run `npm ci` in tools/azurite (bash eng/test.sh does it).");
        }

        var node = ServerProcess.Require("node", "Install Node.js: apt-get install -y --no-install-recommends nodejs npm.");
        var port = ServerProcess.FreePort();
        var directory = ServerProcess.CreateDirectory("azurite");
        try
        {
            var process = await ServerProcess.StartAsync(
                "Azurite",
                node,
                [main, "--blobHost", "127.0.0.1", "--blobPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--location", directory, "--disableTelemetry", "--silent"],
                ct => ServerProcess.IsListeningAsync(port, ct),
                TimeSpan.FromSeconds(60),
                workingDirectory: directory);
            return new AzuriteServer(process, port, directory);
        }
        catch
        {
            TryDelete(directory);
            throw;
        }
    }

    /// <summary>Kills Azurite at once, as a crash or an outage would (the directory stays until disposal).</summary>
    public void Kill() => _process.Kill();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TryDelete(Directory);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Middleware.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"The repository root (the folder of ResumableUpload.Middleware.sln) was not found above {AppContext.BaseDirectory}.");
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a temp directory
        }
    }
}
