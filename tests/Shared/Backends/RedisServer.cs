using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ResumableUpload.Testing.Shared.Backends;

/// <summary>
/// A real <c>redis-server</c> started by the test run: on 127.0.0.1, on a free port (never 6379), in a fresh temporary
/// directory, without persistence. Disposing it kills the process and removes the directory. <see cref="StopAsync"/>
/// and <see cref="StartAgainAsync"/> take it down and bring it back on the same port, for outage tests. Depends on
/// ServerProcess.cs only, so any test project can link both files.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private const int DefaultPort = 6379;
    private const string InstallHint = "Install Redis with `apt-get install -y --no-install-recommends redis-server` (Debian/Ubuntu).";

    private readonly string _program;
    private ServerProcess? _process;

    private RedisServer(string program, int port, string directory)
    {
        _program = program;
        Port = port;
        Directory = directory;
    }

    /// <summary>The port the server listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>The server's working directory (removed on dispose).</summary>
    public string Directory { get; }

    /// <summary>The endpoint, <c>127.0.0.1:port</c>.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>
    /// A StackExchange.Redis connection string for this server: no abort on a failed first connect (the client keeps
    /// retrying, as a production host should) and short timeouts, so an outage shows up quickly in tests.
    /// </summary>
    public string ConnectionString => $"{Endpoint},abortConnect=false,connectTimeout=2000,syncTimeout=2000,asyncTimeout=2000,connectRetry=1";

    /// <summary>Whether the server process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server and waits until it answers PING. Fails with an install hint when redis-server is missing.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var program = ServerProcess.Require("redis-server", InstallHint);
        var port = ServerProcess.FreePort();
        while (port == DefaultPort)
        {
            port = ServerProcess.FreePort(); // never the port a system Redis would use
        }

        var server = new RedisServer(program, port, ServerProcess.CreateDirectory("redis-test"));
        try
        {
            await server.StartProcessAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Kills the server (as a crash would); its data is gone, it keeps its port and directory.</summary>
    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    /// <summary>Starts the server again on the same port after <see cref="StopAsync"/>.</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning)
        {
            return;
        }

        // The port was ours a moment ago; another process could take it in between, so retry briefly.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartProcessAsync();
                return;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                await Task.Delay(200);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private async Task StartProcessAsync()
    {
        _process = await ServerProcess.StartAsync(
            "redis-server",
            _program,
            ["--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", string.Empty, "--appendonly", "no", "--dir", Directory, "--daemonize", "no", "--protected-mode", "yes"],
            async cancellationToken =>
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                var stream = client.GetStream();
                await stream.WriteAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray(), cancellationToken);
                var buffer = new byte[16];
                var read = await stream.ReadAsync(buffer, cancellationToken);
                return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(20),
            workingDirectory: Directory);
    }
}
