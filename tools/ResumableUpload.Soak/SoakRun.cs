using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace ResumableUpload.Soak;

/// <summary>The counters of a run.</summary>
internal sealed class SoakStats
{
    public long UploadsStarted;
    public long UploadsFinished;
    public long UploadsVerified;
    public long Kills;
    public long BytesSent;
    public long BytesVerified;
    public long LostBytes;
    public long Violations;
    public long Cuts;
    public long Retries;
    public long Requests;
    public long RestartChecks;
    public long Stalls;
    public readonly ConcurrentDictionary<int, long> StatusCodes = new();
    public readonly ConcurrentQueue<string> ViolationLines = new();
}

/// <summary>The server's answer to one request.</summary>
internal sealed record Reply(int Code, long? Offset, bool? Complete, string Body, TimeSpan? RetryAfter = null);

/// <summary>
/// Runs the soak: <see cref="SoakOptions.Concurrency"/> workers upload one file after another through the X-File-Id
/// protocol while a killer SIGKILLs the sample at random moments and starts it again; every upload must end with the
/// right bytes and no acknowledged offset may go backwards.
/// </summary>
internal sealed class SoakRun
{
    private const double CutProbability = 0.3;
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(120);

    private readonly SoakOptions _options;
    private readonly ISoakTarget _target;
    private readonly HttpClient _http;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<int, UploadState> _uploads = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly SoakStats _stats = new();
    private volatile bool _stopStarting;
    private volatile string? _fatal;
    private int _nextIndex;
    private TimeSpan _killingEndedAt;

    public SoakRun(SoakOptions options, ISoakTarget target, HttpClient http)
    {
        _options = options;
        _target = target;
        _http = http;
    }

    public SoakStats Stats => _stats;

    public string? Fatal => _fatal;

    public TimeSpan Elapsed => _clock.Elapsed;

    public TimeSpan KillingEndedAt => _killingEndedAt;

    public int UploadCount => _uploads.Count;

    public void Abort(string reason)
    {
        _fatal ??= reason;
        _stopStarting = true;
        _abort.Cancel();
        _hardStop.Cancel();
    }

    public async Task RunAsync()
    {
        await _target.StartAsync(_http);
        Console.WriteLine($"soak: server up on {_target.BaseAddress} after {_clock.Elapsed.TotalSeconds:0.0} s");

        using var progressStop = new CancellationTokenSource();
        var progress = Task.Run(() => ProgressAsync(progressStop.Token));
        var workers = Enumerable.Range(0, _options.Concurrency).Select(_ => Task.Run(WorkerAsync)).ToArray();
        try
        {
            await KillerAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Abort($"the killer failed: {ex.Message}");
        }

        _killingEndedAt = _clock.Elapsed;
        _stopStarting = true;
        _hardStop.CancelAfter(_options.Grace);
        Console.WriteLine($"soak: {FaultWord} stopped after {_stats.Kills} {FaultWord} at {_clock.Elapsed.TotalSeconds:0} s; no new uploads; " +
                          $"the {_uploads.Values.Count(u => !u.Finished)} unfinished ones have {_options.Grace.TotalSeconds:0} s to finish");
        await Task.WhenAll(workers);
        await progressStop.CancelAsync();
        await progress;

        if (_fatal is not null)
        {
            return;
        }

        // (3) No upload stuck.
        foreach (var upload in _uploads.Values.OrderBy(u => u.Index))
        {
            if (!upload.Finished)
            {
                Violation(upload, $"stuck: not finished {_options.Grace.TotalSeconds:0} s after killing stopped (acknowledged {upload.Acked} of {upload.Size} bytes)");
            }
            else if (!upload.Verified && !_stats.ViolationLines.Any(l => l.Contains(upload.Id, StringComparison.Ordinal)))
            {
                Violation(upload, "finished but its download could not be verified before the deadline");
            }
        }

        await FinalCheckAsync();
    }

    // ---- workers ---------------------------------------------------------------------------------------------------

    private async Task WorkerAsync()
    {
        try
        {
            while (!_stopStarting)
            {
                var upload = new UploadState(Interlocked.Increment(ref _nextIndex) - 1, _options.Seed, _clock, _options.MaxSize);
                upload.Sha256 = UploadContent.Sha256(upload.Seed, upload.Size);
                _uploads[upload.Index] = upload;
                Interlocked.Increment(ref _stats.UploadsStarted);
                upload.Trace($"start: id {upload.Id}, size {upload.Size}, sha256 {Convert.ToHexStringLower(upload.Sha256)}");
                await UploadAsync(upload);
                if (upload.Finished)
                {
                    await VerifyAsync(upload);
                }
            }
        }
        catch (OperationCanceledException) when (_hardStop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Abort($"a worker failed: {ex}");
        }
    }

    private async Task UploadAsync(UploadState upload)
    {
        var failures = 0;
        var firstPost = true;
        var random = upload.Random;
        while (!_hardStop.IsCancellationRequested)
        {
            // 1. Ask where to resume.
            var before = upload.Acked;
            var status = await SendAsync(upload, _ => StatusRequest(upload), StatusTimeout, "GET /status");
            if (status is null || status.Code != 200 || status.Offset is null)
            {
                await BackoffAsync(++failures);
                continue;
            }

            Check(upload, status.Offset.Value, before, "GET /status");
            if (status.Complete == true)
            {
                Finish(upload, status.Offset.Value, "GET /status");
                return;
            }

            // 2. Send the rest (or, on the very first request, sometimes only a prefix), sometimes cut part-way.
            var start = status.Offset.Value;
            var end = upload.Size;
            long? cutAt = null;
            if (firstPost && start == 0 && upload.Size > 0 && random.NextDouble() < 0.5)
            {
                end = random.NextInt64(upload.Size);
            }
            else if (start > 0 && end > start && random.NextDouble() < CutProbability)
            {
                // Never on a request that starts at 0: a cut request the server handles late could then restart an
                // upload on purpose (X-Start-Byte 0 discards it), which is the protocol, not a loss.
                cutAt = start + random.NextInt64(end - start);
            }

            firstPost = false;
            before = upload.Acked;
            using var cut = new CancellationTokenSource();
            var post = await SendAsync(upload, progress => UploadRequest(upload, start, end, cutAt, cut, progress), TransferTimeout,
                $"POST /upload start {start} end {end}{(cutAt is null ? "" : $" cut at {cutAt}")}", cut);
            if (post is null)
            {
                if (cut.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _stats.Cuts);
                    await Task.Delay(random.Next(0, 20));
                }
                else
                {
                    await BackoffAsync(++failures);
                }

                continue;
            }

            if (post.Offset is long told)
            {
                Check(upload, told, before, $"POST /upload ({post.Code})");
            }

            switch (post.Code)
            {
                case 200:
                    failures = 0;
                    if (post.Complete == true && post.Offset is long offset)
                    {
                        Finish(upload, offset, "POST /upload");
                        return;
                    }

                    if (end == upload.Size)
                    {
                        Violation(upload, $"POST /upload of the whole rest (from {start}) answered 200 without completing: offset {post.Offset}, body '{post.Body}'");
                    }

                    break;
                case 409 or 423 or 408 or >= 500:
                    await BackoffAsync(++failures, post.RetryAfter);
                    break;
                default:
                    Violation(upload, $"unexpected {post.Code} to POST /upload from {start}: {Shorten(post.Body)}");
                    await BackoffAsync(++failures);
                    break;
            }
        }
    }

    private void Finish(UploadState upload, long offset, string source)
    {
        if (offset != upload.Size)
        {
            Violation(upload, $"{source} said complete at {offset} bytes, but the file has {upload.Size}");
        }

        upload.FinishedAtKill = (int)Interlocked.Read(ref _stats.Kills);
        upload.Finished = true;
        Interlocked.Increment(ref _stats.UploadsFinished);
        upload.Trace($"finished ({source})");
    }

    /// <summary>(1) The finished upload's bytes, fetched with GET /download, have the expected SHA-256.</summary>
    private async Task VerifyAsync(UploadState upload, bool countBytes = true)
    {
        var failures = 0;
        var notFound = 0;
        var since = Stopwatch.StartNew();
        while (!_hardStop.IsCancellationRequested || !countBytes)
        {
            // A data server restart can take a while (Swift's Python servers on a busy machine): time counts too.
            if (failures > 50 && since.Elapsed > TimeSpan.FromSeconds(120))
            {
                Violation(upload, $"GET /download failed {failures} times in a row over {since.Elapsed.TotalSeconds:0} s");
                return;
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
                timeout.CancelAfter(_target.StallTimeout ?? TransferTimeout);
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_target.BaseAddress, $"download?fileId={Uri.EscapeDataString(upload.Id)}"));
                Interlocked.Increment(ref _stats.Requests);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var code = (int)response.StatusCode;
                _stats.StatusCodes.AddOrUpdate(code, 1, (_, n) => n + 1);
                if (code == 404)
                {
                    upload.Trace("GET /download -> 404");
                    if (++notFound >= 3)
                    {
                        Violation(upload, "GET /download answers 404 for a finished upload");
                        return;
                    }

                    await BackoffAsync(++failures);
                    continue;
                }

                if (code != 200)
                {
                    upload.Trace($"GET /download -> {code}");
                    await BackoffAsync(++failures, response.Headers.RetryAfter?.Delta);
                    continue;
                }

                await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[UploadContent.BlockSize];
                var expected = new byte[UploadContent.BlockSize];
                var scratch = new byte[UploadContent.BlockSize];
                long position = 0, firstDifference = -1;
                int read;
                while ((read = await body.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    if (firstDifference < 0 && position + read <= upload.Size)
                    {
                        UploadContent.Read(upload.Seed, position, expected.AsSpan(0, read), scratch);
                        var at = buffer.AsSpan(0, read).CommonPrefixLength(expected.AsSpan(0, read));
                        if (at < read)
                        {
                            firstDifference = position + at;
                        }
                    }

                    position += read;
                    if (_target.StallTimeout is TimeSpan idle)
                    {
                        timeout.CancelAfter(idle);
                    }
                }

                var actual = hash.GetHashAndReset();
                if (position == upload.Size && actual.AsSpan().SequenceEqual(upload.Sha256))
                {
                    upload.Trace($"verified: {position} bytes, sha256 matches");
                    if (countBytes)
                    {
                        upload.Verified = true;
                        Interlocked.Increment(ref _stats.UploadsVerified);
                        Interlocked.Add(ref _stats.BytesVerified, position);
                    }

                    return;
                }

                Violation(upload, $"download has {position} bytes with sha256 {Convert.ToHexStringLower(actual)}; expected {upload.Size} bytes with " +
                                  $"{Convert.ToHexStringLower(upload.Sha256!)}{(firstDifference >= 0 ? $"; first wrong byte at {firstDifference}" : "")}");
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !_abort.IsCancellationRequested)
            {
                upload.Trace($"GET /download failed: {ex.GetType().Name}");
                Interlocked.Increment(ref _stats.Retries);
                await BackoffAsync(++failures);
            }
        }
    }

    // ---- the killer ------------------------------------------------------------------------------------------------

    private async Task KillerAsync()
    {
        var random = new Random(unchecked((int)(UploadContent.Mix(_options.Seed ^ 0x6B696C6C) >> 33)));
        var meanGap = Math.Max(0.2, _options.Duration.TotalSeconds / _options.MinKills * 0.6);
        while (_fatal is null && (_clock.Elapsed < _options.Duration || _stats.Kills < _options.MinKills))
        {
            await Task.Delay(TimeSpan.FromSeconds(meanGap * (0.05 + 1.9 * random.NextDouble())), _abort.Token);
            // Offsets acknowledged up to now must all survive the fault (taken before it, so they were sent before it).
            var kill = (int)Interlocked.Read(ref _stats.Kills) + 1;
            var snapshot = _uploads.Values.Select(u => (Upload: u, Acked: u.Acked, u.Finished, u.FinishedAtKill)).ToArray();
            var what = await _target.InjectFaultAsync(kill, random, _abort.Token);
            Interlocked.Increment(ref _stats.Kills);
            foreach (var entry in snapshot.Where(e => !e.Finished))
            {
                entry.Upload.Trace($"fault #{kill}: {what} (acknowledged {entry.Acked} before it)");
            }

            await CheckAfterRestartAsync(snapshot, random, $"after fault #{kill}");
        }
    }

    /// <summary>
    /// (2) After a restart, GET /status of each upload is at least every offset acknowledged before the kill and at
    /// most the file size. Checked for every unfinished upload and every upload finished since the previous kill, and
    /// for a sample of 32 older finished ones (all of them are checked at the end).
    /// </summary>
    private async Task CheckAfterRestartAsync((UploadState Upload, long Acked, bool Finished, int FinishedAtKill)[] snapshot, Random random, string when)
    {
        var kill = (int)Interlocked.Read(ref _stats.Kills);
        var recent = snapshot.Where(e => !e.Finished || e.FinishedAtKill >= kill - 1).ToList();
        var older = snapshot.Where(e => e.Finished && e.FinishedAtKill < kill - 1).ToArray();
        random.Shuffle(older);
        recent.AddRange(older.Take(32));
        await Parallel.ForEachAsync(recent, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = _abort.Token }, async (entry, ct) =>
        {
            await CheckStatusAsync(entry.Upload, entry.Acked, entry.Finished, when);
        });
    }

    private async Task CheckStatusAsync(UploadState upload, long acknowledged, bool mustBeComplete, string when)
    {
        // At least 10 attempts and 30 s: a restarted state server takes the instances a few seconds to reconnect to.
        var deadline = Stopwatch.StartNew();
        for (var attempt = 1; attempt <= 10 || deadline.Elapsed < TimeSpan.FromSeconds(30); attempt++)
        {
            var reply = await SendAsync(upload, _ => StatusRequest(upload), StatusTimeout, $"GET /status ({when})");
            if (reply is { Code: 200, Offset: long offset })
            {
                Interlocked.Increment(ref _stats.RestartChecks);
                Check(upload, offset, acknowledged, $"GET /status {when}");
                if (mustBeComplete && (reply.Complete != true || offset != upload.Size))
                {
                    Violation(upload, $"GET /status {when}: a finished upload answers {offset} of {upload.Size} bytes, Upload-Complete {reply.Complete}");
                }

                return;
            }

            await BackoffAsync(attempt);
        }

        Violation(upload, $"GET /status {when} did not answer 200 in {deadline.Elapsed.TotalSeconds:0} s");
    }

    /// <summary>At the end: every upload reports its full size, also after one more kill, and a sample downloads again.</summary>
    private async Task FinalCheckAsync()
    {
        var all = _uploads.Values.Where(u => u.Finished).OrderBy(u => u.Index).ToArray();
        var random = new Random(unchecked((int)_options.Seed));
        await Parallel.ForEachAsync(all, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (u, _) => await CheckStatusAsync(u, u.Size, true, "at the end"));
        var final = await _target.FinalFaultAsync(random, _abort.Token);
        Interlocked.Increment(ref _stats.Kills);
        await Parallel.ForEachAsync(all, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (u, _) => await CheckStatusAsync(u, u.Size, true, "after the final fault"));
        var sample = all.ToArray();
        random.Shuffle(sample);
        foreach (var upload in sample.Take(20))
        {
            await VerifyAsync(upload, countBytes: false);
        }

        Console.WriteLine($"soak: final check: {all.Length} uploads report their full size before and after a last fault ({final}); {Math.Min(20, sample.Length)} downloaded again");
    }

    // ---- HTTP ------------------------------------------------------------------------------------------------------

    private HttpRequestMessage StatusRequest(UploadState upload)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_target.BaseAddress, "status"));
        request.Headers.Add("X-File-Id", upload.Id);
        return request;
    }

    private HttpRequestMessage UploadRequest(UploadState upload, long start, long end, long? cutAt, CancellationTokenSource cut, Action progress)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_target.BaseAddress, "upload"))
        {
            Content = new GeneratedContent(upload.Seed, start, end, cutAt, cut, n =>
            {
                Interlocked.Add(ref _stats.BytesSent, n);
                progress();
            }),
        };
        request.Headers.Add("X-File-Id", upload.Id);
        request.Headers.Add("X-Start-Byte", start.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("X-File-Size", upload.Size.ToString(CultureInfo.InvariantCulture));
        return request;
    }

    /// <summary>
    /// Sends a request; null when it failed (server down, connection reset, cut, timeout). With a stall timeout, the
    /// request is also given up when it makes no progress for that long (no body bytes sent, no answer after the last).
    /// </summary>
    private async Task<Reply?> SendAsync(UploadState upload, Func<Action, HttpRequestMessage> create, TimeSpan timeout, string what, CancellationTokenSource? cut = null)
    {
        using var overall = new CancellationTokenSource(timeout);
        using var stalled = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token, overall.Token, stalled.Token, cut?.Token ?? CancellationToken.None);
        var stall = _target.StallTimeout;
        Action progress = () => { };
        if (stall is TimeSpan idle)
        {
            stalled.CancelAfter(idle);
            progress = () =>
            {
                try
                {
                    stalled.CancelAfter(idle);
                }
                catch (ObjectDisposedException)
                {
                }
            };
        }

        using var request = create(progress);
        Interlocked.Increment(ref _stats.Requests);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token);
            var code = (int)response.StatusCode;
            _stats.StatusCodes.AddOrUpdate(code, 1, (_, n) => n + 1);
            var body = await response.Content.ReadAsStringAsync(linked.Token);
            long? offset = null;
            if (response.Headers.TryGetValues("Upload-Offset", out var values))
            {
                offset = long.Parse(values.Single(), NumberStyles.None, CultureInfo.InvariantCulture);
            }

            if (code == 200 && long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out var bodyOffset) && bodyOffset != offset)
            {
                Violation(upload, $"{what}: the body says {bodyOffset} but Upload-Offset says {offset}");
            }

            bool? complete = response.Headers.TryGetValues("Upload-Complete", out var flags) ? flags.Single() == "?1" : null;
            upload.Trace($"{what} -> {code} offset {offset?.ToString(CultureInfo.InvariantCulture) ?? "-"}{(complete is null ? "" : complete.Value ? " complete" : " incomplete")}");
            return new Reply(code, offset, complete, body, response.Headers.RetryAfter?.Delta);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !_abort.IsCancellationRequested)
        {
            var reason = cut?.IsCancellationRequested == true ? "cut by the client"
                : stalled.IsCancellationRequested ? $"no progress for {stall?.TotalSeconds:0} s"
                : ex is OperationCanceledException ? "timed out" : $"{ex.GetType().Name}: {Shorten(ex.Message)}";
            if (stalled.IsCancellationRequested)
            {
                Interlocked.Increment(ref _stats.Stalls);
            }

            upload.Trace($"{what} -> failed ({reason})");
            if (cut?.IsCancellationRequested != true)
            {
                Interlocked.Increment(ref _stats.Retries);
            }

            return null;
        }
    }

    /// <summary>A short random pause that grows with the failures in a row; a Retry-After (a 503 of an outage) is honoured up to 2 s.</summary>
    private async Task BackoffAsync(int failures, TimeSpan? retryAfter = null)
    {
        var ceiling = Math.Min(1000, 20 * (1 << Math.Min(failures, 6)));
        var floor = retryAfter is TimeSpan wait ? (int)Math.Min(2000, wait.TotalMilliseconds) : 0;
        try
        {
            await Task.Delay(floor + Random.Shared.Next(10, ceiling), _abort.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- invariants ------------------------------------------------------------------------------------------------

    private void Check(UploadState upload, long offset, long acknowledged, string source)
    {
        var lost = upload.Observe(offset, acknowledged);
        if (lost > 0)
        {
            Interlocked.Add(ref _stats.LostBytes, lost);
            Violation(upload, $"{source} answered {offset}, below the {acknowledged} bytes acknowledged before ({lost} bytes lost)");
        }

        if (offset > upload.Size)
        {
            Violation(upload, $"{source} answered {offset}, past the file size {upload.Size}");
        }
    }

    private void Violation(UploadState upload, string what)
    {
        Interlocked.Increment(ref _stats.Violations);
        var trace = string.Join("\n", upload.GetTrace().Select(l => "      " + l));
        var line = $"VIOLATION seed {_options.Seed}, upload #{upload.Index} ({upload.Id}, {upload.Size} bytes): {what}\n    its last requests:\n{trace}";
        _stats.ViolationLines.Enqueue(line);
        Console.WriteLine(line);
    }

    private async Task ProgressAsync(CancellationToken stop)
    {
        var interval = TimeSpan.FromSeconds(_options.Mode == "long" ? 15 : 5);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(interval, stop);
                Console.WriteLine(ProgressLine());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public string ProgressLine()
    {
        var s = _stats;
        var inFlight = _uploads.Values.Count(u => !u.Finished);
        return $"[{_clock.Elapsed.TotalSeconds,5:0}s] uploads {s.UploadsStarted} started, {s.UploadsVerified} verified, {inFlight} in flight | " +
               $"{FaultWord} {s.Kills} | sent {Mib(s.BytesSent)} | verified {Mib(s.BytesVerified)} | cuts {s.Cuts} | retries {s.Retries} | violations {s.Violations}";
    }

    /// <summary>What the progress lines call the injected faults: kills (one server) or faults (a cluster).</summary>
    public string FaultWord => _options.Cluster is null ? "kills" : "faults";

    public static string Mib(long bytes) => $"{bytes / 1048576.0:0.0} MiB";

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
