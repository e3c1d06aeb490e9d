using System.Diagnostics;
using System.Security.Cryptography;

namespace ResumableUpload.LoadTest;

/// <summary>What one measurement drives: a target (baseline or protocol) on a host build with host arguments.</summary>
internal sealed record Subject(string Name, Target Target, string HostDll, IReadOnlyList<string> HostArgs)
{
    /// <summary>The protocol or baseline it measures (a variant measures its target's protocol).</summary>
    public string Protocol => Target.Name;
}

/// <summary>The figures of one scenario run against one subject.</summary>
internal sealed record Measurement(
    string Scenario,
    Subject Subject,
    int Round,
    double Seconds,
    long Bytes,
    int Operations,
    double[] LatenciesMs,
    double CpuSeconds,
    long IdleRss,
    long PeakRss,
    bool? ShaOk,
    string? Error)
{
    public double MegabytesPerSecond => Bytes / Seconds / 1e6;

    public double OperationsPerSecond => Operations / Seconds;

    public double Percentile(double p)
    {
        if (LatenciesMs.Length == 0)
        {
            return double.NaN;
        }

        var sorted = LatenciesMs.Order().ToArray();
        var index = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }
}

/// <summary>Runs one scenario against one subject: a fresh host, a warm-up, the measured load, then the SHA-256 check.</summary>
internal sealed class Runner
{
    private readonly HttpClient _http;
    private readonly Sizes _sizes;
    private readonly string _work;
    private readonly ProgressReporter _reporter;
    private int _seedCounter;

    public Runner(HttpClient http, Sizes sizes, string work, ProgressReporter reporter)
    {
        _http = http;
        _sizes = sizes;
        _work = work;
        _reporter = reporter;
    }

    public async Task<Measurement> RunAsync(string scenario, Subject subject, int round, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(_work, $"{scenario}-{subject.Name}-{round}");
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        var expected = new List<string>();
        var progress = new Progress();
        double seconds = 0;
        long bytes = 0;
        var operations = 0;
        var latencies = new List<double>();
        double cpu = 0;
        long idle = 0, peak = 0;
        string? error = null;
        bool? shaOk = null;
        var target = subject.Target;
        // Each round and subject gets new seeds, so no file can match by accident of an earlier run.
        ulong NextSeed() => Content.Mix((ulong)Interlocked.Increment(ref _seedCounter) * 7919UL);

        SettleDisk();
        using (var server = await ServerProcess.StartAsync(subject.HostDll, target.Kind, subject.HostArgs, directory, Path.Combine(_work, "server.log")))
        {
            try
            {
                var uri = server.BaseAddress;
                Func<CancellationToken, Task>? query = null;

                // Warm-up: the same requests, smaller, so JIT and pools are settled before the clock starts.
                // Two passes with a pause between them: tiered compilation promotes the hot methods of the first pass in
                // the background, so the measurement runs steady-state code (a long-running server's), not tier-0 code.
                for (var pass = 0; pass < 2; pass++)
                {
                    if (pass == 1)
                    {
                        await Task.Delay(1000, cancellationToken);
                    }

                    _reporter.Phase($"warm-up {pass + 1}/2");
                    switch (scenario)
                    {
                        case "A" or "C" or "M":
                            for (var i = 0; i < 4; i++)
                            {
                                var seed = NextSeed();
                                await target.UploadAsync(_http, uri, 1_000_000 + (pass * 100_000) + i, seed, 1 << 20, progress, cancellationToken);
                                expected.Add(Content.Sha256(seed, 1 << 20));
                            }

                            break;
                        case "B":
                            for (var i = 0; i < 2; i++)
                            {
                                var seed = NextSeed();
                                await target.UploadInPartsAsync(_http, uri, 1_000_000 + (pass * 100_000) + i, seed, 4 << 20, 4, progress, cancellationToken);
                                expected.Add(Content.Sha256(seed, 4 << 20));
                            }

                            break;
                        case "D":
                            await ParallelAsync(Math.Min(500, _sizes.DUploads), _sizes.DInFlight, async (i, ct) =>
                            {
                                var seed = NextSeed();
                                await target.UploadAsync(_http, uri, 1_000_000 + (pass * 100_000) + i, seed, _sizes.DLength, progress, ct);
                                lock (expected)
                                {
                                    expected.Add(Content.Sha256(seed, _sizes.DLength));
                                }
                            }, cancellationToken);
                            break;
                        case "E":
                            {
                                if (query is null)
                                {
                                    var seed = NextSeed();
                                    query = await target.PrepareQueryAsync(_http, uri, seed, 64 << 10, progress, cancellationToken);
                                    if (target.Stores)
                                    {
                                        expected.Add(Content.Sha256(seed, 64 << 10));
                                    }
                                }

                                await ParallelAsync(Math.Min(3000, _sizes.EQueries), _sizes.EInFlight, (_, ct) => query(ct), cancellationToken);
                                break;
                            }
                    }
                }

                await Task.Delay(300, cancellationToken);
                idle = server.RssBytes();
                var reset = server.ResetPeak();
                var cpuBefore = server.CpuSeconds();
                progress.Reset();
                _reporter.Phase("measuring", progress);
                var clock = Stopwatch.StartNew();
                switch (scenario)
                {
                    case "A" or "M":
                        {
                            var size = scenario == "A" ? _sizes.ALength : _sizes.MLength;
                            var seed = NextSeed();
                            await target.UploadAsync(_http, uri, 1, seed, size, progress, cancellationToken);
                            latencies.Add(clock.Elapsed.TotalMilliseconds);
                            bytes = size;
                            operations = 1;
                            expected.Add(Content.Sha256(seed, size));
                            break;
                        }

                    case "B":
                        {
                            var seed = NextSeed();
                            // p50/p99 of B are per part: the offset query plus the part's request.
                            await target.UploadInPartsAsync(_http, uri, 1, seed, _sizes.BLength, _sizes.BParts, progress, cancellationToken, latencies);
                            bytes = _sizes.BLength;
                            operations = 1;
                            expected.Add(Content.Sha256(seed, _sizes.BLength));
                            break;
                        }

                    case "C" or "D":
                        {
                            var (count, size, inFlight) = scenario == "C" ? (_sizes.CUploads, _sizes.CLength, _sizes.CUploads) : (_sizes.DUploads, _sizes.DLength, _sizes.DInFlight);
                            var seeds = Enumerable.Range(0, count).Select(_ => NextSeed()).ToArray();
                            var times = new double[count];
                            await ParallelAsync(count, inFlight, async (i, ct) =>
                            {
                                var started = Stopwatch.GetTimestamp();
                                await target.UploadAsync(_http, uri, i, seeds[i], size, progress, ct);
                                times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                            }, cancellationToken);
                            latencies.AddRange(times);
                            bytes = count * size;
                            operations = count;
                            expected.AddRange(seeds.Select(s => Content.Sha256(s, size)));
                            break;
                        }

                    case "E":
                        {
                            var times = new double[_sizes.EQueries];
                            await ParallelAsync(_sizes.EQueries, _sizes.EInFlight, async (i, ct) =>
                            {
                                var started = Stopwatch.GetTimestamp();
                                await query!(ct);
                                times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                                progress.Add(1);
                            }, cancellationToken);
                            latencies.AddRange(times);
                            operations = _sizes.EQueries;
                            break;
                        }
                }

                seconds = clock.Elapsed.TotalSeconds;
                cpu = server.CpuSeconds() - cpuBefore;
                peak = reset ? server.PeakRssBytes() : server.PeakRssBytes();
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = $"{ex.GetType().Name}: {ex.Message}";
            }
        }

        _reporter.Phase("checking SHA-256");
        if (error is null && target.Stores)
        {
            var stored = StoredHashes(directory);
            var wanted = expected.Order(StringComparer.Ordinal).ToList();
            shaOk = stored.SequenceEqual(wanted, StringComparer.Ordinal);
            if (shaOk == false)
            {
                error = $"SHA-256 check failed: {wanted.Count} files sent, {stored.Count} stored, {stored.Intersect(wanted).Count()} match";
            }
        }

        if (scenario is "D" or "E")
        {
            // Thousands of small files: deleting them now would leave thousands of recently deleted inodes, which
            // ext4 skips when it allocates the next ones, slowing whatever is measured next. They go at the end.
            Deferred.Add(directory);
        }
        else
        {
            DeleteDirectory(directory);
        }

        return new Measurement(scenario, subject, round, seconds, bytes, operations, latencies.ToArray(), cpu, idle, peak, shaOk, error);
    }

    /// <summary>Run folders of many small files, for the caller to delete when the whole run is over.</summary>
    public List<string> Deferred { get; } = [];

    private static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Writes the dirty pages of the work folder's file system back (syncfs), so the writeback of the previous
    /// measurement's gigabyte does not run during this one.
    /// </summary>
    private void SettleDisk()
    {
        try
        {
            using var sync = System.Diagnostics.Process.Start(new ProcessStartInfo("sync", ["-f", _work]) { UseShellExecute = false })!;
            sync.WaitForExit(60_000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No sync(1): measure anyway.
        }
    }

    /// <summary>The SHA-256 of every stored data file (<c>*.bin</c>; for the middleware the files of its data store).</summary>
    private static List<string> StoredHashes(string directory)
    {
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*.bin", SearchOption.AllDirectories) : [];
        var hashes = new string[files.Length];
        Parallel.For(0, files.Length, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            using var stream = new FileStream(files[i], FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, FileOptions.SequentialScan);
            hashes[i] = Convert.ToHexStringLower(SHA256.HashData(stream));
        });
        return hashes.Order(StringComparer.Ordinal).ToList();
    }

    private static async Task ParallelAsync(int count, int inFlight, Func<int, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        var next = -1;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workers = Enumerable.Range(0, Math.Min(inFlight, count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                try
                {
                    await body(i, failed.Token);
                }
                catch
                {
                    await failed.CancelAsync();
                    throw;
                }
            }
        }).ToArray();
        try
        {
            await Task.WhenAll(workers);
        }
        catch when (workers.FirstOrDefault(w => w.IsFaulted && w.Exception!.InnerException is not OperationCanceledException) is { } first)
        {
            throw first.Exception!.InnerException!;
        }
    }
}

/// <summary>Bytes (or requests) done in the current measurement.</summary>
internal sealed class Progress
{
    private long _done;

    public long Done => Interlocked.Read(ref _done);

    public void Add(long amount) => Interlocked.Add(ref _done, amount);

    public void Reset() => Interlocked.Exchange(ref _done, 0);
}

/// <summary>Shows on stderr what runs and how far it got (a line every two seconds, or one updated line on a terminal).</summary>
internal sealed class ProgressReporter : IDisposable
{
    private readonly Timer _timer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private string _title = "";
    private string _phase = "";
    private Progress? _progress;
    private long _lastDone;
    private TimeSpan _lastAt;
    private string _unit = "B";

    public ProgressReporter() => _timer = new Timer(_ => Tick(), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(_terminal ? 0.5 : 2));

    public void Start(string title, string unit)
    {
        lock (_timer)
        {
            if (_terminal)
            {
                Console.Error.Write("\r\x1b[K");
            }

            _title = title;
            _unit = unit;
            _phase = "starting the host";
            _progress = null;
            Console.Error.WriteLine($"[{_clock.Elapsed:mm\\:ss}] {title}");
        }
    }

    public void Phase(string phase, Progress? progress = null)
    {
        lock (_timer)
        {
            _phase = phase;
            _progress = progress;
            _lastDone = 0;
            _lastAt = _clock.Elapsed;
        }
    }

    private void Tick()
    {
        lock (_timer)
        {
            if (_title.Length == 0)
            {
                return;
            }

            var line = $"    {_phase}";
            if (_progress is { } progress)
            {
                var done = progress.Done;
                var now = _clock.Elapsed;
                var rate = (done - _lastDone) / Math.Max(1e-3, (now - _lastAt).TotalSeconds);
                _lastDone = done;
                _lastAt = now;
                line += _unit == "B" ? $": {done / 1048576.0:0} MiB sent, {rate / 1e6:0} MB/s" : $": {done} requests, {rate:0}/s";
            }

            if (_terminal)
            {
                Console.Error.Write($"\r\x1b[K{line}");
            }
            else
            {
                Console.Error.WriteLine(line);
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        if (_terminal)
        {
            Console.Error.Write("\r\x1b[K");
        }
    }
}
