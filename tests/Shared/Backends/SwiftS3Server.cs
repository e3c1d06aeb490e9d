using System.Globalization;
using System.Net.Http;
using System.Text;

namespace ResumableUpload.Testing.Shared.Backends;

/// <summary>
/// A real OpenStack Swift with its S3 API (s3api middleware and tempauth) on 127.0.0.1: memcached, the account,
/// container and object servers and the proxy, each on a free port, with one-replica rings, all under a fresh temp
/// directory that is removed (with every process) on dispose. The S3 endpoint is <see cref="ServiceUrl"/>, with the
/// tempauth user <c>test:tester</c> / <c>testing</c> as access key and secret. Only depends on ServerProcess.cs, so any
/// test project can link it.
/// </summary>
/// <remarks>
/// Swift reads its hash path prefix/suffix from <c>/etc/swift/swift.conf</c> whatever <c>swift_dir</c> says; when that
/// file is missing (a machine where only the programs were installed) it is written with fixed test values, which
/// needs root. Debian's <c>swift</c> package installs one.
/// </remarks>
internal sealed class SwiftS3Server : IAsyncDisposable
{
    private const string InstallHint = "Install OpenStack Swift with its S3 API: `apt-get install -y --no-install-recommends swift swift-proxy swift-account swift-container swift-object memcached` (Debian 12).";
    private const string SwiftConfPath = "/etc/swift/swift.conf";

    private readonly List<ServerProcess> _processes;

    private SwiftS3Server(string directory, int proxyPort, List<ServerProcess> processes)
    {
        Directory = directory;
        ProxyPort = proxyPort;
        _processes = processes;
    }

    /// <summary>The S3 access key (the tempauth user).</summary>
    public const string DefaultAccessKey = "test:tester";

    /// <summary>The S3 secret key (the tempauth key).</summary>
    public const string DefaultSecretKey = "testing";

    /// <summary>The directory holding the configuration, rings and objects.</summary>
    public string Directory { get; }

    /// <summary>The port of the proxy (the S3 endpoint).</summary>
    public int ProxyPort { get; }

    /// <summary>The S3 endpoint, for <c>ServiceURL</c> with path-style addressing.</summary>
    public string ServiceUrl => $"http://127.0.0.1:{ProxyPort}";

    /// <summary>The S3 access key.</summary>
    public string AccessKey { get; } = DefaultAccessKey;

    /// <summary>The S3 secret key.</summary>
    public string SecretKey { get; } = DefaultSecretKey;

    /// <summary>The region to sign requests for (s3api's <c>location</c>).</summary>
    public string Region { get; } = "us-east-1";

    /// <summary>A fresh, valid bucket name.</summary>
    public static string NewBucketName() => "test-" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>
    /// The configuration keys of the S3 data store (section <c>ResumableUploads:S3</c>) for this server and
    /// <paramref name="bucketName"/>, for a host's in-memory configuration or command line.
    /// </summary>
    public IReadOnlyDictionary<string, string?> StoreConfiguration(string bucketName, string keyPrefix = "uploads/") => new Dictionary<string, string?>
    {
        ["ResumableUploads:S3:BucketName"] = bucketName,
        ["ResumableUploads:S3:KeyPrefix"] = keyPrefix,
        ["ResumableUploads:S3:ServiceUrl"] = ServiceUrl,
        ["ResumableUploads:S3:Region"] = Region,
        ["ResumableUploads:S3:ForcePathStyle"] = "true",
        ["ResumableUploads:S3:AccessKey"] = AccessKey,
        ["ResumableUploads:S3:SecretKey"] = SecretKey,
    };

    /// <summary>Starts the servers and waits until the proxy answers its health check.</summary>
    public static async Task<SwiftS3Server> StartAsync()
    {
        var proxy = ServerProcess.Require("swift-proxy-server", InstallHint);
        var account = ServerProcess.Require("swift-account-server", InstallHint);
        var container = ServerProcess.Require("swift-container-server", InstallHint);
        var obj = ServerProcess.Require("swift-object-server", InstallHint);
        var memcached = ServerProcess.Require("memcached", InstallHint);
        var python = SwiftPython(proxy);
        EnsureSwiftConf();

        var directory = ServerProcess.CreateDirectory("swift-s3");
        var processes = new List<ServerProcess>();
        try
        {
            var etc = Path.Combine(directory, "etc");
            var devices = Path.Combine(directory, "srv");
            System.IO.Directory.CreateDirectory(etc);
            System.IO.Directory.CreateDirectory(Path.Combine(devices, "sdb1"));
            var ports = new HashSet<int>();
            while (ports.Count < 5)
            {
                ports.Add(ServerProcess.FreePort());
            }

            var (accountPort, containerPort, objectPort, proxyPort, memcachedPort) = ports.ToArray() switch { var p => (p[0], p[1], p[2], p[3], p[4]) };
            var user = Environment.UserName;

            await File.WriteAllTextAsync(Path.Combine(directory, "rings.py"), RingScript);
            await ServerProcess.RunAsync(python, [Path.Combine(directory, "rings.py"), etc, Port(accountPort), Port(containerPort), Port(objectPort)], TimeSpan.FromSeconds(60));

            foreach (var (kind, port) in new[] { ("account", accountPort), ("container", containerPort), ("object", objectPort) })
            {
                await File.WriteAllTextAsync(Path.Combine(directory, kind + ".conf"), StorageServerConf(kind, port, devices, etc, user));
            }

            await File.WriteAllTextAsync(Path.Combine(directory, "proxy.conf"), ProxyConf(proxyPort, memcachedPort, etc, user));

            var memcachedArguments = new List<string> { "-l", "127.0.0.1", "-p", Port(memcachedPort), "-U", "0", "-m", "32" };
            if (Environment.UserName == "root")
            {
                memcachedArguments.AddRange(["-u", "root"]);
            }

            var backends = await Task.WhenAll(
                StartListeningAsync("memcached", memcached, memcachedArguments, memcachedPort, directory),
                StartListeningAsync("swift-account-server", account, [Path.Combine(directory, "account.conf"), "-v"], accountPort, directory),
                StartListeningAsync("swift-container-server", container, [Path.Combine(directory, "container.conf"), "-v"], containerPort, directory),
                StartListeningAsync("swift-object-server", obj, [Path.Combine(directory, "object.conf"), "-v"], objectPort, directory));
            processes.AddRange(backends);

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            processes.Add(await ServerProcess.StartAsync(
                "swift-proxy-server",
                proxy,
                [Path.Combine(directory, "proxy.conf"), "-v"],
                async ct =>
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{proxyPort}/healthcheck"), ct);
                    return response.IsSuccessStatusCode;
                },
                TimeSpan.FromSeconds(90),
                directory));

            return new SwiftS3Server(directory, proxyPort, processes);
        }
        catch
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            TryDelete(directory);
            throw;
        }
    }

    /// <summary>Creates a bucket (a Swift container of the tempauth account) through Swift's own API.</summary>
    public async Task CreateBucketAsync(string bucketName)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var auth = new HttpRequestMessage(HttpMethod.Get, new Uri($"{ServiceUrl}/auth/v1.0"));
        auth.Headers.Add("X-Storage-User", AccessKey);
        auth.Headers.Add("X-Storage-Pass", SecretKey);
        using var authResponse = await http.SendAsync(auth);
        authResponse.EnsureSuccessStatusCode();
        var token = authResponse.Headers.GetValues("X-Auth-Token").First();
        var storageUrl = authResponse.Headers.GetValues("X-Storage-Url").First();

        using var put = new HttpRequestMessage(HttpMethod.Put, new Uri($"{storageUrl}/{Uri.EscapeDataString(bucketName)}"));
        put.Headers.Add("X-Auth-Token", token);
        using var putResponse = await http.SendAsync(put);
        if (!putResponse.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Swift refused to create container '{bucketName}': {(int)putResponse.StatusCode} {await putResponse.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>What the servers printed (for failure messages).</summary>
    public string Output => string.Join("\n", _processes.Select(p => $"--- {p.Name}\n{p.Output}"));

    public async ValueTask DisposeAsync()
    {
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].DisposeAsync();
        }

        TryDelete(Directory);
    }

    private static Task<ServerProcess> StartListeningAsync(string name, string program, IEnumerable<string> arguments, int port, string directory)
        => ServerProcess.StartAsync(name, program, arguments, ct => ServerProcess.IsListeningAsync(port, ct), TimeSpan.FromSeconds(90), directory);

    // The interpreter Swift's own scripts run with (their #! line), which may not be the first python3 on PATH.
    private static string SwiftPython(string swiftScript)
    {
        using var reader = new StreamReader(swiftScript);
        var first = reader.ReadLine() ?? string.Empty;
        if (first.StartsWith("#!", StringComparison.Ordinal))
        {
            var interpreter = first[2..].Trim().Split(' ')[0];
            if (File.Exists(interpreter) && !interpreter.EndsWith("/env", StringComparison.Ordinal))
            {
                return interpreter;
            }
        }

        return ServerProcess.Require("python3", InstallHint);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static void EnsureSwiftConf()
    {
        if (File.Exists(SwiftConfPath))
        {
            return;
        }

        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(SwiftConfPath)!);
            File.WriteAllText(SwiftConfPath, """
                [swift-hash]
                swift_hash_path_suffix = 5f0d2c9a7b3e4168a1c6
                swift_hash_path_prefix = c84e1b6d2f9a3057e4b2

                [storage-policy:0]
                name = Policy-0
                default = yes

                """);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new InvalidOperationException($"Swift needs {SwiftConfPath} (its hash path prefix/suffix) and it could not be written: {e.Message}. Run the tests as root once, or {InstallHint}", e);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    // One-replica rings with one device each, built in one Python process (quicker than nine swift-ring-builder runs).
    private const string RingScript = """
        import sys
        from swift.common.ring import RingBuilder

        etc = sys.argv[1]
        for name, port in zip(("account", "container", "object"), sys.argv[2:5]):
            builder = RingBuilder(10, 1, 1)
            builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port), "device": "sdb1", "weight": 100})
            builder.rebalance()
            builder.get_ring().save("%s/%s.ring.gz" % (etc, name))
            builder.save("%s/%s.builder" % (etc, name))

        """;

    private static string StorageServerConf(string kind, int port, string devices, string etc, string user) => new StringBuilder()
        .AppendLine("[DEFAULT]")
        .AppendLine("bind_ip = 127.0.0.1")
        .AppendLine(CultureInfo.InvariantCulture, $"bind_port = {port}")
        .AppendLine(CultureInfo.InvariantCulture, $"devices = {devices}")
        .AppendLine("mount_check = false")
        .AppendLine("disable_fallocate = true")
        .AppendLine("workers = 0")
        .AppendLine(CultureInfo.InvariantCulture, $"swift_dir = {etc}")
        .AppendLine(CultureInfo.InvariantCulture, $"user = {user}")
        .AppendLine("log_level = WARNING")
        .AppendLine()
        .AppendLine("[pipeline:main]")
        .AppendLine(CultureInfo.InvariantCulture, $"pipeline = {kind}-server")
        .AppendLine()
        .AppendLine(CultureInfo.InvariantCulture, $"[app:{kind}-server]")
        .AppendLine(CultureInfo.InvariantCulture, $"use = egg:swift#{kind}")
        .ToString();

    private static string ProxyConf(int port, int memcachedPort, string etc, string user) => $"""
        [DEFAULT]
        bind_ip = 127.0.0.1
        bind_port = {port}
        workers = 0
        swift_dir = {etc}
        user = {user}
        log_level = WARNING

        [pipeline:main]
        pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

        [app:proxy-server]
        use = egg:swift#proxy
        account_autocreate = true

        [filter:catch_errors]
        use = egg:swift#catch_errors

        [filter:gatekeeper]
        use = egg:swift#gatekeeper

        [filter:healthcheck]
        use = egg:swift#healthcheck

        [filter:proxy-logging]
        use = egg:swift#proxy_logging

        [filter:cache]
        use = egg:swift#memcache
        memcache_servers = 127.0.0.1:{memcachedPort}

        [filter:listing_formats]
        use = egg:swift#listing_formats

        [filter:bulk]
        use = egg:swift#bulk

        [filter:s3api]
        use = egg:swift#s3api
        location = us-east-1

        [filter:tempauth]
        use = egg:swift#tempauth
        user_test_tester = testing .admin

        [filter:copy]
        use = egg:swift#copy

        [filter:slo]
        use = egg:swift#slo

        [filter:dlo]
        use = egg:swift#dlo

        """;
}
