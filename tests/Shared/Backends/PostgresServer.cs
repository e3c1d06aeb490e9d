using System.Globalization;
using System.Text.RegularExpressions;

namespace ResumableUpload.Testing.Shared.Backends;

/// <summary>
/// A throwaway PostgreSQL cluster for one test run: <c>initdb</c> into a fresh directory under the temp folder, then
/// <c>postgres</c> itself (not <c>pg_ctl</c>, so killing the child stops the server) on 127.0.0.1 and a free port,
/// with fsync off. Runs as user <c>postgres</c> when the tests run as root (PostgreSQL refuses root), as the current
/// user otherwise. Never touches the system cluster. Disposing it kills the server and removes the directory.
/// Self-contained: it needs only <see cref="ServerProcess"/> and the PostgreSQL programs (no client library).
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private const string InstallHint = "Install PostgreSQL (Debian: apt-get install -y --no-install-recommends postgresql; it provides /usr/lib/postgresql/<version>/bin).";

    private readonly string _binDirectory;
    private readonly string _root;
    private readonly bool _asPostgresUser;
    private ServerProcess? _server;
    private int _databases;

    private PostgresServer(string binDirectory, string root, int port, bool asPostgresUser)
    {
        _binDirectory = binDirectory;
        _root = root;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    public string Host { get; } = "127.0.0.1";

    public int Port { get; }

    public string Username { get; } = "postgres";

    /// <summary>The data directory of the cluster.</summary>
    public string DataDirectory => Path.Combine(_root, "data");

    /// <summary>A connection string to the <c>postgres</c> database (trust authentication: no password).</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    /// <summary>A connection string to <paramref name="database"/> on this server.</summary>
    public string ConnectionStringFor(string database)
        => string.Create(CultureInfo.InvariantCulture, $"Host={Host};Port={Port};Username={Username};Database={database};Pooling=true;Timeout=5;Command Timeout=15");

    /// <summary>A connection string to a port where nothing listens (for failure tests).</summary>
    public static string ClosedPortConnectionString()
        => string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={ServerProcess.FreePort()};Username=postgres;Database=postgres;Timeout=2");

    /// <summary>Creates and starts a fresh cluster; fails (with an install hint) when PostgreSQL is not installed.</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var binDirectory = FindBinDirectory();
        var asPostgresUser = Environment.UserName == "root";
        var root = ServerProcess.CreateDirectory("pg-test");
        var server = new PostgresServer(binDirectory, root, ServerProcess.FreePort(), asPostgresUser);
        try
        {
            // initdb creates the data directory itself, so it belongs to the user the server runs as.
            await ServerProcess.RunAsync(
                server.Command("initdb", out var initdbArguments),
                initdbArguments.Concat(["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
                TimeSpan.FromSeconds(120),
                workingDirectory: root);
            await server.StartServerAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates a new, empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        var number = Interlocked.Increment(ref _databases);
        name ??= string.Create(CultureInfo.InvariantCulture, $"test_{number}_{Guid.NewGuid():N}");
        if (!Regex.IsMatch(name, "^[a-z_][a-z0-9_]*$"))
        {
            throw new ArgumentException($"'{name}' is not a plain lowercase database name.", nameof(name));
        }

        await PsqlAsync("postgres", $"CREATE DATABASE {name}");
        return ConnectionStringFor(name);
    }

    /// <summary>Runs SQL with psql against <paramref name="database"/> (setup steps and checks in tests); returns its unaligned output.</summary>
    public Task<string> PsqlAsync(string database, string sql)
        => ServerProcess.RunAsync(
            Path.Combine(_binDirectory, "psql"),
            ["-h", Host, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", Username, "-d", database, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql],
            TimeSpan.FromSeconds(60),
            workingDirectory: _root);

    /// <summary>Runs a script file with psql in one transaction, with psql variables (<c>-v name=value</c>).</summary>
    public Task<string> PsqlScriptAsync(string database, string path, IReadOnlyDictionary<string, string> variables)
        => ServerProcess.RunAsync(
            Path.Combine(_binDirectory, "psql"),
            new[] { "-h", Host, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", Username, "-d", database, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-1" }
                .Concat(variables.SelectMany(v => new[] { "-v", $"{v.Key}={v.Value}" }))
                .Concat(["-f", path]),
            TimeSpan.FromSeconds(60),
            workingDirectory: _root);

    /// <summary>Kills the server at once (SIGKILL of its process tree), as a crash would. The data stays.</summary>
    public async Task StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    /// <summary>Starts the server again on the same port and data (after <see cref="StopAsync"/>).</summary>
    public async Task RestartAsync()
    {
        if (_server is not null)
        {
            return;
        }

        // The killed postmaster (a grandchild, under runuser) may still be exiting: wait for it, then drop its lock
        // files (data directory and socket), which would otherwise stop the new server while the old PID lingers (as a
        // zombie where nothing reaps it).
        var lockFile = Path.Combine(DataDirectory, "postmaster.pid");
        if (File.Exists(lockFile) && int.TryParse(File.ReadLines(lockFile).FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            for (var i = 0; i < 100 && IsRunning(pid); i++)
            {
                await Task.Delay(100);
            }

            File.Delete(lockFile);
        }

        var socket = Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $".s.PGSQL.{Port}"));
        File.Delete(socket + ".lock");
        File.Delete(socket);

        await StartServerAsync();
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ..."; a zombie (Z) holds no resources any more.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private async Task StartServerAsync()
    {
        var port = Port.ToString(CultureInfo.InvariantCulture);
        _server = await ServerProcess.StartAsync(
            "postgres",
            Command("postgres", out var arguments),
            arguments.Concat(["-D", DataDirectory, "-p", port, "-c", "listen_addresses=127.0.0.1", "-k", _root, "-c", "fsync=off", "-c", "max_connections=200", "-c", "full_page_writes=off"]),
            async ct =>
            {
                await ServerProcess.RunAsync(Path.Combine(_binDirectory, "pg_isready"), ["-h", Host, "-p", port, "-U", Username, "-d", "postgres", "-t", "1"], TimeSpan.FromSeconds(5), workingDirectory: _root);
                return true;
            },
            TimeSpan.FromSeconds(60),
            workingDirectory: _root);
    }

    /// <summary>The program to start for <paramref name="program"/>: itself, or runuser (as postgres) when we are root.</summary>
    private string Command(string program, out List<string> arguments)
    {
        var path = Path.Combine(_binDirectory, program);
        if (!_asPostgresUser)
        {
            arguments = [];
            return path;
        }

        var runuser = File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : ServerProcess.Require("runuser", "runuser (util-linux) is needed to run PostgreSQL as user postgres when the tests run as root.");
        arguments = ["-u", "postgres", "--", path];
        return runuser;
    }

    private static string FindBinDirectory()
    {
        const string Root = "/usr/lib/postgresql";
        var newest = Directory.Exists(Root)
            ? Directory.GetDirectories(Root)
                .Select(d => (Directory: d, Version: double.TryParse(Path.GetFileName(d), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => File.Exists(Path.Combine(d.Directory, "bin", "initdb")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Directory, "bin"))
                .FirstOrDefault()
            : null;
        if (newest is not null)
        {
            return newest;
        }

        // Other layouts (a non-Debian machine): initdb on PATH.
        return Path.GetDirectoryName(ServerProcess.Require("initdb", InstallHint))!;
    }
}
