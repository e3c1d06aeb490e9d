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

var workDirectory = Directory.CreateTempSubdirectory("resumable-upload-soak-").FullName;
var dataDirectory = Path.Combine(workDirectory, "uploads");
var logPath = Path.Combine(workDirectory, "server.log");
var port = ServerHost.FreePort();

Console.WriteLine($"soak: mode {options.Mode}, seed {options.Seed} (rerun with --seed {options.Seed}), duration {options.Duration.TotalSeconds:0} s, " +
                  $"at least {options.MinKills} kills, {options.Concurrency} uploads in flight, grace {options.Grace.TotalSeconds:0} s");
Console.WriteLine($"soak: {located}; port {port}; data and server log in {workDirectory}");

using var server = new ServerHost(dll, port, dataDirectory, logPath);
using var handler = new SocketsHttpHandler
{
    ConnectTimeout = TimeSpan.FromSeconds(2),
    PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
    MaxConnectionsPerServer = 256,
    AllowAutoRedirect = false,
    UseProxy = false,
    AutomaticDecompression = DecompressionMethods.None,
};
using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
var run = new SoakRun(options, server, http);

// Never leave the child behind: Ctrl+C, SIGTERM and normal exit all kill it.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    run.Abort("interrupted");
    server.Kill();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Kill();

var passed = false;
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

var stats = run.Stats;
Console.WriteLine(run.ProgressLine());
Console.WriteLine();
Console.WriteLine("soak summary");
Console.WriteLine($"  mode / seed            {options.Mode} / {options.Seed}");
Console.WriteLine($"  run time               {run.Elapsed.TotalSeconds:0} s (killing for {run.KillingEndedAt.TotalSeconds:0} s)");
Console.WriteLine($"  uploads                {stats.UploadsStarted} started, {stats.UploadsFinished} finished, {stats.UploadsVerified} verified by SHA-256");
Console.WriteLine($"  kills (SIGKILL)        {stats.Kills} ({server.Starts} server starts)");
Console.WriteLine($"  client disconnects     {stats.Cuts}");
Console.WriteLine($"  requests / retries     {stats.Requests} / {stats.Retries}");
Console.WriteLine($"  checks after restarts  {stats.RestartChecks} GET /status");
Console.WriteLine($"  responses              {string.Join(", ", stats.StatusCodes.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}"))}");
Console.WriteLine($"  bytes sent             {stats.BytesSent} ({SoakRun.Mib(stats.BytesSent)})");
Console.WriteLine($"  bytes verified         {stats.BytesVerified} ({SoakRun.Mib(stats.BytesVerified)})");
Console.WriteLine($"  lost bytes             {stats.LostBytes}");
Console.WriteLine($"  violations             {stats.Violations}");
if (run.Fatal is not null)
{
    Console.WriteLine($"  error                  {run.Fatal}");
}

passed = run.Fatal is null && stats.Violations == 0 && stats.LostBytes == 0 && stats.UploadsStarted > 0
         && stats.UploadsVerified == stats.UploadsStarted && stats.Kills >= options.MinKills;
if (!passed)
{
    Console.WriteLine($"  kept for inspection    {workDirectory} (server.log has the server's output)");
    foreach (var line in stats.ViolationLines.Take(10))
    {
        Console.WriteLine(line);
    }

    var tail = File.Exists(logPath) ? File.ReadLines(logPath).TakeLast(30).ToArray() : [];
    if (tail.Length > 0)
    {
        Console.WriteLine("  last lines of server.log:");
        foreach (var line in tail)
        {
            Console.WriteLine("    " + line);
        }
    }
}
else if (!options.KeepData)
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
