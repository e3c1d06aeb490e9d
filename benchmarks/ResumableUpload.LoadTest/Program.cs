using System.Net;
using ResumableUpload.LoadTest;

// End-to-end load test of ResumableUpload.Middleware against bare-Kestrel baselines: see docs/performance.md.
Options options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(Options.Usage);
        return 0;
    }

    options = Options.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

var repoRoot = FindRepoRoot();
var hostDll = options.Host is not null ? Path.GetFullPath(options.Host) : repoRoot is null ? null
    : Path.Combine(repoRoot, "benchmarks", "ResumableUpload.Benchmarks.Host", "bin", options.Configuration, "net10.0", "ResumableUpload.Benchmarks.Host.dll");
if (hostDll is null || !File.Exists(hostDll))
{
    Console.Error.WriteLine($"error: the benchmark host is not built ({hostDll ?? "no repository root found"}). Run: bash eng/bench.sh");
    return 2;
}

var work = options.Work is not null ? Path.GetFullPath(options.Work) : Directory.CreateTempSubdirectory("ru-loadtest-").FullName;
Directory.CreateDirectory(work);
var output = options.Out is not null ? Path.GetFullPath(options.Out)
    : options.Mode == "full" && repoRoot is not null ? Path.Combine(repoRoot, "docs", "performance") : work;
Directory.CreateDirectory(output);

Target[] protocols = [.. options.Protocols.Select<string, Target>(p => p switch
{
    "xfileid" => new XFileIdTarget(),
    "tus" => new TusTarget(),
    "ietf" => new IetfTarget(),
    _ => throw new ArgumentException($"unknown protocol {p}"),
})];

List<Subject> SubjectsFor(string scenario)
{
    var list = new List<Subject>();
    if (options.Baselines)
    {
        switch (scenario)
        {
            case "A" or "C" or "D":
                list.Add(new Subject("discard", new DiscardBaseline(), hostDll, []));
                list.Add(new Subject("file", new FileBaseline(), hostDll, []));
                break;
            case "E":
                list.Add(new Subject("constant", new ConstantBaseline(), hostDll, []));
                break;
        }
    }

    var scenarioProtocols = scenario == "M" ? protocols.Take(1).ToArray() : protocols;
    list.AddRange(scenarioProtocols.Select(p => new Subject(p.Name, p, hostDll, [])));
    foreach (var variant in options.Variants)
    {
        list.AddRange(scenarioProtocols.Select(p => new Subject($"{p.Name}@{variant.Name}", p, variant.HostDll ?? hostDll, variant.HostArgs)));
    }

    return list;
}

using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = 256,
    AllowAutoRedirect = false,
    UseProxy = false,
    AutomaticDecompression = DecompressionMethods.None,
    PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
};
using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, DefaultRequestVersion = HttpVersion.Version11 };
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var started = DateTimeOffset.UtcNow;
var loadBefore = Report.LoadAverage();
var plan = new List<(int Round, string Scenario, Subject Subject)>();
for (var round = 1; round <= options.Rounds; round++)
{
    foreach (var scenario in options.Scenarios)
    {
        var subjects = SubjectsFor(scenario);
        if (scenario == "M" && round > 1)
        {
            continue; // one 4 GiB run is enough to see whether memory grows with size
        }

        // Alternate the order each round, so a baseline is not always measured first (or last) under drifting load.
        if (round % 2 == 0)
        {
            subjects.Reverse();
        }

        plan.AddRange(subjects.Select(s => (round, scenario, s)));
    }
}

Console.Error.WriteLine($"load test: mode {options.Mode}, {options.Rounds} round(s), {plan.Count} measurements; host {hostDll}; work {work}");
var measurements = new List<Measurement>();
var runnerDeferred = new List<string>();
using (var reporter = new ProgressReporter())
{
    var runner = new Runner(http, options.Sizes, work, reporter);
    var step = 0;
    foreach (var (round, scenario, subject) in plan)
    {
        if (cancel.IsCancellationRequested)
        {
            break;
        }

        reporter.Start($"[{++step}/{plan.Count}] {Report.Describe(scenario, options.Sizes)} | {subject.Name} | round {round}/{(scenario == "M" ? 1 : options.Rounds)}", scenario == "E" ? "req" : "B");
        var m = await runner.RunAsync(scenario, subject, round, cancel.Token);
        measurements.Add(m);
        runnerDeferred.AddRange(runner.Deferred);
        runner.Deferred.Clear();
        var rate = m.Error is not null ? $"FAILED: {m.Error}"
            : Report.IsThroughput(scenario) ? $"{m.MegabytesPerSecond:0.0} MB/s" : $"{m.OperationsPerSecond:0.0}/s, p50 {m.Percentile(50):0.00} ms, p99 {m.Percentile(99):0.00} ms";
        Console.Error.WriteLine($"    {rate}; server CPU {m.CpuSeconds:0.00} s, RSS idle {m.IdleRss >> 20} MiB, peak {m.PeakRss >> 20} MiB{(m.ShaOk == true ? ", SHA-256 ok" : "")}");
    }
}

var report = new Report(measurements, options);
runnerDeferred.ForEach(d =>
{
    try
    {
        Directory.Delete(d, recursive: true);
    }
    catch (IOException)
    {
    }
});
var elapsed = DateTimeOffset.UtcNow - started;
await File.WriteAllTextAsync(Path.Combine(output, "results.md"), report.Markdown(started, elapsed, loadBefore, Report.LoadAverage()));
await File.WriteAllTextAsync(Path.Combine(output, "chart.svg"), report.Svg(started));

// docs/performance.md shows the last run's target table between two markers: written here, so it never goes stale.
var page = Path.Combine(Path.GetDirectoryName(output)!, "performance.md");
const string Begin = "<!-- load-test-targets:begin -->", End = "<!-- load-test-targets:end -->";
if (File.Exists(page) && Path.GetFileName(output) == "performance" && options.Mode == "full")
{
    var text = await File.ReadAllTextAsync(page);
    var from = text.IndexOf(Begin, StringComparison.Ordinal);
    var to = text.IndexOf(End, StringComparison.Ordinal);
    if (from >= 0 && to > from)
    {
        var section = report.TargetSection(started, elapsed, loadBefore, Report.LoadAverage());
        await File.WriteAllTextAsync(page, text[..(from + Begin.Length)] + "\n" + section + text[to..]);
    }
}

Console.WriteLine();
Console.WriteLine("| Scenario | Subject | Measure | Measured | Required | Result |");
Console.WriteLine("| --- | --- | --- | ---: | ---: | --- |");
foreach (var c in report.Checks())
{
    var measured = c.Unit == "×" ? $"{c.Measured:0.00}" : $"{c.Measured:0.0} MiB";
    var required = c.Unit == "×" ? $"≥ {c.Required:0.00}" : $"≤ {c.Required:0} MiB";
    Console.WriteLine($"| {c.Scenario} | {c.Subject} | {c.What} | {measured} | {required} | {(c.Passed ? "pass" : "fail")} |");
}

var failures = measurements.Count(m => m.Error is not null);
Console.WriteLine();
Console.WriteLine($"load test: {measurements.Count - failures} measurements ok, {failures} failed; results in {Path.Combine(output, "results.md")} and chart.svg");
if (options.Work is null && failures == 0)
{
    TryDelete(work, keep: output == work ? ["results.md", "chart.svg"] : []);
}

return failures == 0 && measurements.Count == plan.Count ? 0 : 1;

static string? FindRepoRoot()
{
    foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ResumableUpload.Middleware.sln")))
            {
                return dir.FullName;
            }
        }
    }

    return null;
}

static void TryDelete(string directory, string[] keep)
{
    try
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (keep.Contains(Path.GetFileName(entry)))
            {
                continue;
            }

            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }
    }
    catch (IOException)
    {
    }
}
