using System.Net;
using ResumableUpload.Soak;

// Crash soak test of ResumableUpload.Middleware: see docs/reliability.md.
SoakOptions options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(SoakOptions.Usage);
        return 0;
    }

    options = SoakOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine(SoakOptions.Usage);
    Console.WriteLine("soak: 0 passed, 1 failed");
    return 1;
}

var repoRoot = FindRepoRoot();
if (repoRoot is null)
{
    Console.Error.WriteLine("error: cannot find the repository root (a folder with ResumableUpload.Middleware.sln) above "
                            + $"{AppContext.BaseDirectory} or {Environment.CurrentDirectory}.");
    Console.WriteLine("soak: 0 passed, 1 failed");
    return 1;
}

var dll = ServerHost.LocateSample(repoRoot, options.Configuration, out var located);
if (dll is null)
{
    Console.Error.WriteLine(located);
    Console.WriteLine("soak: 0 passed, 1 failed");
    return 1;
}

if (options.Cluster is not null)
{
    // The cluster soak: each combination in turn, each a pass or a failure of its own.
    var clusterPassed = 0;
    foreach (var combination in options.Cluster)
    {
        if (await RunClusterAsync(options, combination, dll, repoRoot))
        {
            clusterPassed++;
        }
    }

    var clusterFailed = options.Cluster.Count - clusterPassed;
    Console.WriteLine($"soak: {clusterPassed} passed, {clusterFailed} failed");
    return clusterFailed == 0 ? 0 : 1;
}

var workDirectory = Directory.CreateTempSubdirectory("resumable-upload-soak-").FullName;
var dataDirectory = Path.Combine(workDirectory, "uploads");
var logPath = Path.Combine(workDirectory, "server.log");
var port = ServerHost.FreePort();

Console.WriteLine($"soak: mode {options.Mode}, seed {options.Seed} (rerun with --seed {options.Seed}), duration {options.Duration.TotalSeconds:0} s, " +
                  $"at least {options.MinKills} kills, {options.Concurrency} uploads in flight, grace {options.Grace.TotalSeconds:0} s");
Console.WriteLine($"soak: {located}; port {port}; data and server log in {workDirectory}");

using var server = new ServerHost(dll, port, dataDirectory, logPath);
using var http = NewClient();
var target = new SingleServerTarget(server, logPath);
var run = new SoakRun(options, target, http);

// Never leave the child behind: Ctrl+C, SIGTERM and normal exit all kill it.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    run.Abort("interrupted");
    server.Kill();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Kill();

try
{
    await run.RunAsync();
}
catch (Exception ex)
{
    run.Abort($"{ex.GetType().Name}: {ex.Message}");
}
finally
{
    server.Kill();
}

var passed = Report(options, run, target, $"{workDirectory} (server.log has the server's output)");
if (passed && !options.KeepData)
{
    server.Dispose();
    try
    {
        Directory.Delete(workDirectory, recursive: true);
    }
    catch (IOException)
    {
    }
}

Console.WriteLine(passed ? "soak: 1 passed, 0 failed" : "soak: 0 passed, 1 failed");
return passed ? 0 : 1;

static async Task<bool> RunClusterAsync(SoakOptions options, string combination, string dll, string repoRoot)
{
    Console.WriteLine();
    Console.WriteLine($"soak: cluster {combination}, mode {options.Mode}, seed {options.Seed} (rerun with --cluster {Flag(combination)} --seed {options.Seed}), " +
                      $"duration {options.Duration.TotalSeconds:0} s, at least {options.MinKills} faults ({options.EachFaultAtLeast} of each kind first), " +
                      $"{options.Concurrency} uploads in flight of up to {SoakRun.Mib(options.MaxSize)}, grace {options.Grace.TotalSeconds:0} s");
    var clock = System.Diagnostics.Stopwatch.StartNew();
    var planRandom = new Random(unchecked((int)(UploadContent.Mix(options.Seed ^ 0x706C616E) >> 33)));
    await using var cluster = new ClusterTarget(combination, dll, repoRoot, planRandom, options.EachFaultAtLeast, clock);
    using var http = NewClient();
    var run = new SoakRun(options, cluster, http);
    ConsoleCancelEventHandler onCancel = (_, e) =>
    {
        e.Cancel = true;
        run.Abort("interrupted");
    };
    EventHandler onExit = (_, _) => cluster.KillAll();
    Console.CancelKeyPress += onCancel;
    AppDomain.CurrentDomain.ProcessExit += onExit;
    try
    {
        await run.RunAsync();
    }
    catch (Exception ex)
    {
        run.Abort($"{ex.GetType().Name}: {ex.Message}");
    }
    finally
    {
        Console.CancelKeyPress -= onCancel;
    }

    var passed = Report(options, run, cluster, null);
    await cluster.DisposeAsync();
    AppDomain.CurrentDomain.ProcessExit -= onExit;
    Console.WriteLine($"soak: cluster {combination} {(passed ? "passed" : "FAILED")} in {clock.Elapsed.TotalSeconds:0} s (servers started and stopped included)");
    return passed;
}

static string Flag(string combination) => combination == "Redis+S3" ? "redis-s3" : "postgresql-azureblob";

static HttpClient NewClient()
{
    var handler = new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(2),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
        MaxConnectionsPerServer = 256,
        AllowAutoRedirect = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
    };
    return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
}

static bool Report(SoakOptions options, SoakRun run, ISoakTarget target, string? keptDirectory)
{
    var stats = run.Stats;
    var cluster = options.Cluster is not null;
    Console.WriteLine(run.ProgressLine());
    Console.WriteLine();
    Console.WriteLine("soak summary");
    Console.WriteLine($"  mode / seed            {options.Mode} / {options.Seed}");
    Console.WriteLine($"  run time               {run.Elapsed.TotalSeconds:0} s ({(cluster ? "faults" : "killing")} for {run.KillingEndedAt.TotalSeconds:0} s)");
    Console.WriteLine($"  uploads                {stats.UploadsStarted} started, {stats.UploadsFinished} finished, {stats.UploadsVerified} verified by SHA-256");
    Console.WriteLine(cluster
        ? $"  faults                 {stats.Kills} (the final one included)"
        : $"  kills (SIGKILL)        {stats.Kills}");
    foreach (var line in target.SummaryLines())
    {
        Console.WriteLine("  " + line);
    }

    Console.WriteLine($"  client disconnects     {stats.Cuts}");
    if (cluster)
    {
        Console.WriteLine($"  client idle timeouts   {stats.Stalls} (no progress for {target.StallTimeout?.TotalSeconds:0} s: a stopped instance)");
    }

    Console.WriteLine($"  requests / retries     {stats.Requests} / {stats.Retries}");
    Console.WriteLine($"  checks after faults    {stats.RestartChecks} GET /status");
    Console.WriteLine($"  responses              {string.Join(", ", stats.StatusCodes.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}"))}");
    Console.WriteLine($"  bytes sent             {stats.BytesSent} ({SoakRun.Mib(stats.BytesSent)})");
    Console.WriteLine($"  bytes verified         {stats.BytesVerified} ({SoakRun.Mib(stats.BytesVerified)})");
    Console.WriteLine($"  lost bytes             {stats.LostBytes}");
    Console.WriteLine($"  violations             {stats.Violations}");
    if (run.Fatal is not null)
    {
        Console.WriteLine($"  error                  {run.Fatal}");
    }

    var passed = run.Fatal is null && stats.Violations == 0 && stats.LostBytes == 0 && stats.UploadsStarted > 0
                 && stats.UploadsVerified == stats.UploadsStarted && stats.Kills >= options.MinKills;
    if (!passed)
    {
        if (keptDirectory is not null)
        {
            Console.WriteLine($"  kept for inspection    {keptDirectory}");
        }

        foreach (var line in stats.ViolationLines.Take(10))
        {
            Console.WriteLine(line);
        }

        foreach (var line in target.DiagnosticLines())
        {
            Console.WriteLine(line);
        }
    }
    else if (cluster && target is ClusterTarget clusterTarget)
    {
        Console.WriteLine("  faults in order:");
        foreach (var line in clusterTarget.FaultLog)
        {
            Console.WriteLine("    " + line);
        }
    }

    return passed;
}

static string? FindRepoRoot()
{
    foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Middleware.sln")))
            {
                return directory.FullName;
            }
        }
    }

    return null;
}
