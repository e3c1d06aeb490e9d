using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ResumableUpload.ScaleOut.Tests;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Soak;

/// <summary>
/// Three sample instances behind nginx on a real state server (Redis or PostgreSQL) and data server (Swift's S3 API
/// or Azurite), started and configured as in the multi-instance tests (<see cref="BackendCombinations"/>: 3 s leases,
/// 1 s lock wait). Faults, one at a time and chosen by the seed: SIGKILL an instance and start it again on its port;
/// SIGSTOP an instance for longer than its lease, then SIGCONT it (a stale lease holder waking up); restart the state
/// server; restart the data server. The servers keep their data directories across a restart.
/// </summary>
internal sealed class ClusterTarget : ISoakTarget, IAsyncDisposable
{
    private const int InstanceCount = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly string _combination;
    private readonly string _sampleDll;
    private readonly string _repoRoot;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<ServerProcess> _restartedServers = [];
    private readonly Instance[] _instances;
    private readonly Queue<FaultKind> _mandatory = new();
    private readonly Stopwatch _clock;
    private IReadOnlyList<string> _configuration = [];
    private NginxServer? _nginx;
    private int _disposed;

    public ClusterTarget(string combination, string sampleDll, string repoRoot, Random planRandom, int eachAtLeast, Stopwatch clock)
    {
        _combination = combination;
        _sampleDll = sampleDll;
        _repoRoot = repoRoot;
        _clock = clock;
        _instances = Enumerable.Range(1, InstanceCount).Select(i => new Instance($"app{i}", ServerProcess.FreePort())).ToArray();

        // The first faults cover every kind (eachAtLeast of each, shuffled by the seed); the rest are drawn by weight.
        var first = Enumerable.Range(0, eachAtLeast).SelectMany(_ => Enum.GetValues<FaultKind>()).ToArray();
        planRandom.Shuffle(first);
        foreach (var kind in first)
        {
            _mandatory.Enqueue(kind);
        }
    }

    public enum FaultKind
    {
        KillInstance,
        StopInstance,
        RestartStateServer,
        RestartDataServer,
    }

    public Uri BaseAddress => _nginx?.BaseAddress ?? throw new InvalidOperationException("The cluster is not started.");

    public TimeSpan? StallTimeout => TimeSpan.FromSeconds(4);

    public int Kills { get; private set; }

    public int Stops { get; private set; }

    public int StateRestarts { get; private set; }

    public int DataRestarts { get; private set; }

    public int InstanceStarts => _instances.Sum(i => i.Starts);

    /// <summary>Every fault with its time, in order.</summary>
    public ConcurrentQueue<string> FaultLog { get; } = new();

    public string StateServer => _combination.StartsWith("Redis", StringComparison.Ordinal) ? "Redis" : "PostgreSQL";

    public string DataServer => _combination.EndsWith("S3", StringComparison.Ordinal) ? "Swift S3" : "Azurite";

    public async Task StartAsync(HttpClient http)
    {
        var backends = BackendCombinations.Get(_combination);
        _configuration = await backends.StartAsync(_owned);
        await Task.WhenAll(_instances.Select(StartInstanceAsync));
        _nginx = await NginxServer.StartAsync(_instances.Select(i => i.Port).ToArray());
        Console.WriteLine($"soak: cluster {_combination}: nginx on {_nginx.BaseAddress} in front of {string.Join(", ", _instances.Select(i => $"{i.Name} :{i.Port}"))}");
    }

    public async Task<string> InjectFaultAsync(int number, Random random, CancellationToken cancellationToken)
    {
        var kind = _mandatory.Count > 0
            ? _mandatory.Dequeue()
            : random.NextDouble() switch
            {
                < 0.35 => FaultKind.KillInstance,
                < 0.70 => FaultKind.StopInstance,
                < 0.85 => FaultKind.RestartStateServer,
                _ => FaultKind.RestartDataServer,
            };
        var what = kind switch
        {
            FaultKind.KillInstance => await KillInstanceAsync(random),
            FaultKind.StopInstance => await StopInstanceAsync(random, cancellationToken),
            FaultKind.RestartStateServer => await RestartStateServerAsync(random),
            _ => await RestartDataServerAsync(random),
        };
        Log($"fault #{number}: {what}");
        return what;
    }

    public async Task<string> FinalFaultAsync(Random random, CancellationToken cancellationToken)
    {
        var what = $"{await KillInstanceAsync(random)}; {await RestartStateServerAsync(random)}";
        Log($"final fault: {what}");
        return what;
    }

    public IEnumerable<string> SummaryLines() =>
    [
        $"cluster                {_combination}: {InstanceCount} instances behind nginx, state {StateServer}, data {DataServer}",
        $"instance SIGKILLs      {Kills} ({InstanceStarts} instance starts)",
        $"instance SIGSTOPs      {Stops} (each longer than the 3 s lease, then SIGCONT)",
        $"state server restarts  {StateRestarts} ({StateServer})",
        $"data server restarts   {DataRestarts} ({DataServer})",
    ];

    public IEnumerable<string> DiagnosticLines()
    {
        var lines = new List<string> { "  faults:" };
        lines.AddRange(FaultLog.Select(l => "    " + l));
        foreach (var instance in _instances)
        {
            lines.Add($"  --- {instance.Name} (start #{instance.Starts}{(instance.Process is { HasExited: false } ? "" : ", dead")}), first 64 KiB of its output, last 40 lines:");
            lines.AddRange((instance.Process?.Output ?? "").Split('\n').TakeLast(40).Select(l => "    " + l.TrimEnd()));
        }

        if (_nginx is not null)
        {
            lines.Add("  --- nginx error log, last 20 lines:");
            lines.AddRange(_nginx.ErrorLog.Split('\n').TakeLast(20).Select(l => "    " + l.TrimEnd()));
        }

        return lines;
    }

    // ---- instances -------------------------------------------------------------------------------------------------

    private async Task StartInstanceAsync(Instance instance)
    {
        var arguments = new List<string>
        {
            _sampleDll,
            "--urls", $"http://127.0.0.1:{instance.Port.ToString(CultureInfo.InvariantCulture)}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:Console:FormatterName=simple",
            "--Logging:Console:FormatterOptions:SingleLine=true",
        };
        arguments.AddRange(_configuration);

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // The port was this instance's a moment ago; something else could take it in between, hence the retries.
                instance.Process = await ServerProcess.StartAsync(
                    $"sample instance {instance.Name}",
                    ServerProcess.Require("dotnet", "Install the .NET 10 SDK."),
                    arguments,
                    async ct => (await probe.GetAsync(new Uri($"http://127.0.0.1:{instance.Port}/healthz"), ct)).IsSuccessStatusCode,
                    StartTimeout,
                    workingDirectory: Path.GetDirectoryName(_sampleDll),
                    environment: new Dictionary<string, string>
                    {
                        ["DOTNET_NOLOGO"] = "1",
                        ["ASPNETCORE_ENVIRONMENT"] = "Production",
                        ["AWS_EC2_METADATA_DISABLED"] = "true",
                    });
                instance.Starts++;
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                await Task.Delay(500);
            }
        }
    }

    private async Task<string> KillInstanceAsync(Random random)
    {
        var instance = _instances[random.Next(InstanceCount)];
        var down = TimeSpan.FromMilliseconds(random.Next(200, 1500));
        await instance.Process!.DisposeAsync(); // SIGKILL of the process tree, waits for the exit
        instance.Process = null;
        Kills++;
        Log($"SIGKILL {instance.Name}");
        await Task.Delay(down);
        await StartInstanceAsync(instance);
        return $"SIGKILL {instance.Name}, down {down.TotalSeconds:0.0} s, started again";
    }

    private async Task<string> StopInstanceAsync(Random random, CancellationToken cancellationToken)
    {
        var instance = _instances[random.Next(InstanceCount)];
        var pause = TimeSpan.FromMilliseconds(random.Next(4000, 8000));
        var pid = instance.Process!.ProcessId;
        instance.Stopped = true;
        await Signal("STOP", pid);
        Stops++;
        Log($"SIGSTOP {instance.Name} (pid {pid}) for {pause.TotalSeconds:0.0} s");
        try
        {
            await Task.Delay(pause, cancellationToken);
        }
        finally
        {
            await Signal("CONT", pid);
            instance.Stopped = false;
        }

        if (instance.Process.HasExited)
        {
            throw new InvalidOperationException($"{instance.Name} died while stopped");
        }

        return $"SIGSTOP {instance.Name} for {pause.TotalSeconds:0.0} s, then SIGCONT";
    }

    // ---- the state server ------------------------------------------------------------------------------------------

    private async Task<string> RestartStateServerAsync(Random random)
    {
        var down = TimeSpan.FromMilliseconds(random.Next(300, 2000));
        StateRestarts++;
        var redis = _owned.OfType<RedisServer>().SingleOrDefault();
        if (redis is not null)
        {
            // The fixture runs Redis without persistence (--save '', no AOF), so a crash would lose every upload's
            // state: not a failure of the middleware but of the deployment. Persistence is the operator's part; here
            // SHUTDOWN SAVE writes the snapshot and exits in one step (no write lands between the two), and the
            // restart in the same directory loads it.
            await RedisCommandAsync(redis.Port, "SHUTDOWN", "SAVE");
            for (var i = 0; i < 100 && redis.IsRunning; i++)
            {
                await Task.Delay(100);
            }

            await redis.StopAsync();
            Log($"Redis: SHUTDOWN SAVE (snapshot {Size(Path.Combine(redis.Directory, "dump.rdb"))})");
            await Task.Delay(down);
            await redis.StartAgainAsync();
            return $"Redis SHUTDOWN SAVE, down {down.TotalSeconds:0.0} s, started again on :{redis.Port} with its snapshot";
        }

        var postgres = _owned.OfType<PostgresServer>().Single();
        await postgres.StopAsync(); // SIGKILL; committed transactions survive (WAL in the OS cache)
        Log("PostgreSQL: SIGKILL");
        await Task.Delay(down);
        await postgres.RestartAsync();
        return $"PostgreSQL SIGKILL, down {down.TotalSeconds:0.0} s, started again on :{postgres.Port} (crash recovery)";
    }

    private static async Task RedisCommandAsync(int port, params string[] words)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        var command = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{words.Length}\r\n");
        foreach (var word in words)
        {
            command.Append(CultureInfo.InvariantCulture, $"${word.Length}\r\n{word}\r\n");
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(command.ToString()), timeout.Token);

        // SHUTDOWN answers nothing when it succeeds: the connection closes. An error reply means it did not shut down.
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, timeout.Token);
        if (read > 0 && buffer[0] == (byte)'-')
        {
            throw new InvalidOperationException($"Redis refused {string.Join(' ', words)}: {Encoding.ASCII.GetString(buffer, 0, read).Trim()}");
        }
    }

    // ---- the data server -------------------------------------------------------------------------------------------

    private async Task<string> RestartDataServerAsync(Random random)
    {
        var down = TimeSpan.FromMilliseconds(random.Next(300, 2000));
        DataRestarts++;
        var swift = _owned.OfType<SwiftS3Server>().SingleOrDefault();
        if (swift is not null)
        {
            // Swift's storage servers and its proxy (the S3 endpoint): SIGKILL, then the same programs on the same
            // configuration files, ports and devices. Objects are files on disk; memcached is left alone.
            var servers = new[] { "proxy", "object", "container", "account" };
            var pids = servers.SelectMany(s => ProcessesWithArgument(Path.Combine(swift.Directory, s + ".conf"))).ToArray();
            foreach (var pid in pids)
            {
                await Signal("KILL", pid);
            }

            await WaitGoneAsync(pids, TimeSpan.FromSeconds(10));
            Log($"Swift: SIGKILL of {pids.Length} processes (proxy, object, container, account servers)");
            await Task.Delay(down);
            var storage = await Task.WhenAll(servers.Skip(1).Select(s => StartSwiftAsync(swift.Directory, s)));
            lock (_restartedServers)
            {
                _restartedServers.AddRange(storage);
            }

            var proxy = await StartSwiftAsync(swift.Directory, "proxy");
            lock (_restartedServers)
            {
                _restartedServers.Add(proxy);
            }

            return $"Swift SIGKILL, down {down.TotalSeconds:0.0} s, started again on :{swift.ProxyPort}";
        }

        // Azurite keeps blob metadata in an in-memory database that it saves to --location every few seconds and when
        // it is stopped: SIGTERM lets it save (a SIGKILL would lose writes it acknowledged, which no real object
        // store does). It gets 10 s, then SIGKILL.
        var azurite = _owned.OfType<AzuriteServer>().Single();
        var azuritePids = ProcessesWithArgument(azurite.Directory).ToArray();
        foreach (var pid in azuritePids)
        {
            await Signal("TERM", pid);
        }

        var graceful = await WaitGoneAsync(azuritePids, TimeSpan.FromSeconds(10));
        if (!graceful)
        {
            foreach (var pid in azuritePids)
            {
                await Signal("KILL", pid);
            }

            await WaitGoneAsync(azuritePids, TimeSpan.FromSeconds(10));
        }

        Log($"Azurite: {(graceful ? "SIGTERM, exited" : "SIGTERM ignored for 10 s, SIGKILL")}");
        await Task.Delay(down);
        var main = Path.Combine(_repoRoot, "tools", "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
        var port = azurite.Port.ToString(CultureInfo.InvariantCulture);
        var process = await ServerProcess.StartAsync(
            "Azurite (restarted)",
            ServerProcess.Require("node", "Install Node.js."),
            [main, "--blobHost", "127.0.0.1", "--blobPort", port, "--location", azurite.Directory, "--disableTelemetry", "--silent"],
            ct => ServerProcess.IsListeningAsync(azurite.Port, ct),
            StartTimeout,
            workingDirectory: azurite.Directory);
        lock (_restartedServers)
        {
            _restartedServers.Add(process);
        }

        return $"Azurite {(graceful ? "SIGTERM" : "SIGKILL")}, down {down.TotalSeconds:0.0} s, started again on :{port}";
    }

    private static async Task<ServerProcess> StartSwiftAsync(string directory, string server)
    {
        var conf = Path.Combine(directory, server + ".conf");
        var portLine = File.ReadLines(conf).First(l => l.StartsWith("bind_port", StringComparison.Ordinal));
        var port = int.Parse(portLine.Split('=')[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        var program = ServerProcess.Require($"swift-{server}-server", "Install OpenStack Swift.");
        Func<CancellationToken, Task<bool>> ready = server == "proxy"
            ? async ct =>
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthcheck"), ct);
                return response.IsSuccessStatusCode;
            }
            : ct => ServerProcess.IsListeningAsync(port, ct);
        return await ServerProcess.StartAsync($"swift-{server}-server (restarted)", program, [conf, "-v"], ready, StartTimeout, directory);
    }

    // ---- processes -------------------------------------------------------------------------------------------------

    /// <summary>The ids of the processes with <paramref name="argument"/> in their command line (a path only this run uses).</summary>
    private static IEnumerable<int> ProcessesWithArgument(string argument)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(directory, "cmdline"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (cmdline.Split('\0').Any(a => a == argument))
            {
                yield return pid;
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task<bool> WaitGoneAsync(IEnumerable<int> pids, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (pids.Any(IsRunning))
        {
            if (deadline.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>Sends a signal to one process by its id with kill(1).</summary>
    private static async Task Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        })!;
        await kill.WaitForExitAsync();
    }

    private static void SignalNow(string signal, int pid)
    {
        try
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
            kill.WaitForExit(5000);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
        }
    }

    private static string Size(string path) => File.Exists(path) ? $"{new FileInfo(path).Length} bytes" : "missing";

    private void Log(string line)
    {
        var entry = $"{_clock.Elapsed.TotalSeconds,8:0.000}s {line}";
        FaultLog.Enqueue(entry);
        Console.WriteLine($"soak: {entry.TrimStart()}");
    }

    // ---- the end ---------------------------------------------------------------------------------------------------

    public void KillAll()
    {
        foreach (var instance in _instances)
        {
            if (instance.Process is { } process)
            {
                // A stopped process gets SIGCONT first, so nothing stays behind frozen.
                SignalNow("CONT", process.ProcessId);
                process.Kill();
            }
        }

        try
        {
            DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(60));
        }
        catch (AggregateException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var instance in _instances)
        {
            if (instance.Process is { } process)
            {
                SignalNow("CONT", process.ProcessId);
                await process.DisposeAsync();
            }
        }

        if (_nginx is not null)
        {
            await _nginx.DisposeAsync();
        }

        List<ServerProcess> restarted;
        lock (_restartedServers)
        {
            restarted = [.. _restartedServers];
        }

        foreach (var process in restarted)
        {
            await process.DisposeAsync();
        }

        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                await _owned[i].DisposeAsync();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }
    }

    private sealed class Instance(string name, int port)
    {
        public string Name { get; } = name;

        public int Port { get; } = port;

        public ServerProcess? Process { get; set; }

        public volatile bool Stopped;

        public int Starts { get; set; }
    }
}
