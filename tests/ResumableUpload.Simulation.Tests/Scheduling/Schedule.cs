using System.Globalization;
using System.Security.Cryptography;
using ResumableUpload.Simulation.Tests.Clients;
using ResumableUpload.Simulation.Tests.Cluster;

namespace ResumableUpload.Simulation.Tests.Scheduling;

/// <summary>One upload of a schedule: its protocol client, its content (a function of the seed) and the highest offset any host acknowledged.</summary>
internal sealed class SimUpload(string name, UploadClient client, byte[] content)
{
    public string Name { get; } = name;

    public UploadClient Client { get; } = client;

    public byte[] Content { get; } = content;

    public bool Created { get; set; }

    /// <summary>The highest offset a host reported for this upload (a 2xx append, a status or HEAD, a 409's offset).</summary>
    public long Acknowledged { get; set; }
}

/// <summary>Totals over the schedules of one run, for the summary line and docs/reliability.md.</summary>
internal sealed class RunTotals
{
    public int Schedules;
    public int Steps;
    public int Requests;
    public int Drops;
    public int Restarts;
    public int LeasesExpired;
    public int Uploads;
    public long StoreCalls;
    public long Paused;
    public long Failed;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"schedules={Schedules} steps={Steps} uploads={Uploads} requests={Requests} store calls={StoreCalls} paused={Paused} failed={Failed} leases expired={LeasesExpired} client drops={Drops} host restarts={Restarts}");
}

/// <summary>
/// One seeded schedule: a few uploads (X-File-Id and tus), a fixed number of steps, each drawn from the seed (which
/// upload, which host, which store call to freeze or fail, whether its lease runs out, where a client drops, which
/// host restarts). The invariants are checked after every step and at the end; every violation is kept with the step
/// that showed it, and the whole trace is printed with the seed so the schedule can be replayed.
/// </summary>
internal sealed class Schedule
{
    private static readonly StoreCall[] WriterCalls =
    [
        StoreCall.LockAcquire, StoreCall.StateClaim, StoreCall.StateGet, StoreCall.StateSave, StoreCall.DataOpenWriter,
        StoreCall.WriterWrite, StoreCall.WriterFlush, StoreCall.DataComplete, StoreCall.WriterDispose, StoreCall.LockRelease,
    ];

    private static readonly TimeSpan HitWait = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RequestWait = TimeSpan.FromSeconds(45);

    private readonly SimulationCluster _cluster;
    private readonly StoreCombination _stores;
    private readonly Random _random;
    private readonly List<SimUpload> _uploads = [];
    private readonly RunTotals _totals;
    private string _step = "setup";

    public Schedule(SimulationCluster cluster, StoreCombination stores, int seed, RunTotals totals)
    {
        _cluster = cluster;
        _stores = stores;
        _random = new Random(seed);
        _totals = totals;
        Seed = seed;
        var contentRandom = new Random(seed ^ 0x5eed);
        for (var i = 0; i < 3; i++)
        {
            var content = new byte[contentRandom.Next(24 * 1024, 160 * 1024)];
            contentRandom.NextBytes(content);
            UploadClient client = i % 2 == 0
                ? new XFileIdClient(string.Create(CultureInfo.InvariantCulture, $"sim-{seed}-{i}.bin"))
                : new TusClient();
            _uploads.Add(new SimUpload($"u{i}({client.Protocol}, {content.Length} B)", client, content));
        }
    }

    public int Seed { get; }

    public List<string> Trace { get; } = [];

    public List<string> Violations { get; } = [];

    public async Task RunAsync(int steps)
    {
        for (var step = 0; step < steps; step++)
        {
            await StepAsync(step);
            _totals.Steps++;
            await CheckAfterStepAsync();
        }

        _step = "finish";
        foreach (var upload in _uploads)
        {
            await FinishAsync(upload);
        }

        await VerifyAsync();
    }

    private async Task StepAsync(int step)
    {
        // Every draw of the step is made up front, so the schedule is the same whatever the hosts answer.
        var upload = _uploads[_random.Next(_uploads.Count)];
        var roll = _random.NextDouble();
        var host = _random.Next(_cluster.HostCount);
        var other = (host + 1 + _random.Next(_cluster.HostCount - 1)) % _cluster.HostCount;
        var call = WriterCalls[_random.Next(WriterCalls.Length)];
        var phase = _random.Next(2) == 0 ? CallPhase.Before : CallPhase.After;
        var skip = call is StoreCall.WriterWrite or StoreCall.StateSave ? _random.Next(3) : 0;
        var expire = _random.Next(2) == 0;
        var revokeOnWake = _random.Next(2) == 0;
        var chunk = _random.Next(1, 48 * 1024);
        var racerChunk = _random.Next(1, 48 * 1024);
        var dropAt = _random.NextDouble();
        var checksum = _random.Next(2) == 0;

        if (!upload.Created)
        {
            _step = $"step {step}: create {upload.Name} via host {host}";
            Trace.Add(_step);
            await CreateAsync(upload, host, chunk);
            return;
        }

        if (roll < 0.25)
        {
            var drop = dropAt < 0.5 ? (int?)null : (int)(chunk * dropAt);
            _step = $"step {step}: {upload.Name} append {chunk} B via host {host}{(drop is null ? "" : $", client drops after {drop} B")}{(checksum ? ", checksum" : "")}";
            Trace.Add(_step);
            await AppendAsync(upload, host, chunk, drop, checksum, "append");
        }
        else if (roll < 0.65)
        {
            var lease = expire && _stores.Fenced;
            _step = $"step {step}: {upload.Name} append {chunk} B via host {host} frozen at {call} {phase} (skip {skip}){(lease ? ", its lease runs out" : "")}{(revokeOnWake ? ", told on waking" : "")}; racer appends {racerChunk} B via host {other}{(checksum ? "; checksums" : "")}";
            Trace.Add(_step);
            await FrozenWriterAsync(upload, host, other, call, phase, skip, lease, revokeOnWake, chunk, racerChunk, checksum, restart: false);
        }
        else if (roll < 0.85)
        {
            _step = $"step {step}: {upload.Name} append {chunk} B via host {host}, store fails at {call} {phase} (skip {skip}){(checksum ? ", checksum" : "")}";
            Trace.Add(_step);
            _cluster.Gate.Arm(host, call, phase, FaultKind.Fail, skip);
            await AppendAsync(upload, host, chunk, null, checksum, "append with failing store");
            _cluster.Gate.Disarm();
        }
        else if (roll < 0.93)
        {
            _step = $"step {step}: restart host {host}";
            Trace.Add(_step);
            await _cluster.RestartHostAsync(host);
            _totals.Restarts++;
        }
        else
        {
            _step = $"step {step}: {upload.Name} append {chunk} B via host {host} frozen at {call} {phase} (skip {skip}), host {host} restarts under it; racer appends {racerChunk} B via host {other}";
            Trace.Add(_step);
            await FrozenWriterAsync(upload, host, other, call, phase, skip, lease: false, revokeOnWake: false, chunk, racerChunk, checksum, restart: true);
        }
    }

    private async Task CreateAsync(SimUpload upload, int host, int chunk)
    {
        var created = await upload.Client.CreateAsync(_cluster.Client(host), upload.Content.Length);
        _totals.Requests++;
        if (!created.IsSuccess)
        {
            Violate($"creating {upload.Name} without faults answered {created}");
            return;
        }

        upload.Created = true;
        _totals.Uploads++;
        if (upload.Client is XFileIdClient)
        {
            // The one request with X-Start-Byte 0 (which restarts an upload): sent before anyone races, so a
            // restart never legitimately lowers an acknowledged offset.
            await AppendFromAsync(upload, host, 0, Math.Min(chunk, upload.Content.Length), null, false, "first append");
        }
    }

    /// <summary>A client's resume: ask the host for the offset, send up to <paramref name="chunk"/> bytes from there.</summary>
    private async Task<Answer?> AppendAsync(SimUpload upload, int host, int chunk, int? drop, bool checksum, string what)
    {
        var status = await StatusAsync(upload, host, what + ": status");
        if (status is not { IsSuccess: true, Offset: long from } || (status.Complete && from == upload.Content.Length))
        {
            return null;
        }

        if (from == 0 && upload.Client is XFileIdClient)
        {
            return null; // never restart: a 0 here after the first append was already reported as a violation
        }

        var count = (int)Math.Min(chunk, upload.Content.Length - from);
        return await AppendFromAsync(upload, host, from, count, drop is int d && d < count ? d : null, checksum, what);
    }

    private async Task<Answer> AppendFromAsync(SimUpload upload, int host, long from, int count, int? drop, bool checksum, string what)
    {
        var before = upload.Acknowledged;
        var answer = await upload.Client.AppendAsync(_cluster.Client(host), upload.Content, from, count, drop, checksum);
        _totals.Requests++;
        if (drop is not null)
        {
            _totals.Drops++;
        }

        Observe(upload, answer, before, $"{what} [{from}, {from + count}) via host {host}");
        if (answer.IsSuccess && answer.Offset != from + count)
        {
            Violate($"{upload.Name}: {what} [{from}, {from + count}) via host {host} answered {answer}: a 2xx must count exactly the bytes it was sent");
        }

        return answer;
    }

    private async Task<Answer> StatusAsync(SimUpload upload, int host, string what)
    {
        var before = upload.Acknowledged;
        var answer = await upload.Client.StatusAsync(_cluster.Client(host));
        _totals.Requests++;
        Observe(upload, answer, before, $"{what} via host {host}");
        return answer;
    }

    /// <summary>
    /// The heart of the simulation: a writer frozen at a store call (its process stopped there), optionally its lease
    /// running out underneath it or its host restarting, another client racing for the same upload through another host,
    /// then the frozen writer waking up.
    /// </summary>
    private async Task FrozenWriterAsync(
        SimUpload upload, int host, int other, StoreCall call, CallPhase phase, int skip, bool lease, bool revokeOnWake, int chunk, int racerChunk, bool checksum, bool restart)
    {
        var status = await StatusAsync(upload, host, "victim: status");
        if (status is not { IsSuccess: true, Offset: long from } || from == upload.Content.Length || from == 0 && upload.Client is XFileIdClient)
        {
            return;
        }

        var count = (int)Math.Min(chunk, upload.Content.Length - from);
        _cluster.Gate.Arm(host, call, phase, FaultKind.Pause, skip);
        var victim = AppendFromAsync(upload, host, from, count, null, checksum, "victim append");
        var first = await Task.WhenAny(_cluster.Gate.Hit, victim, Task.Delay(HitWait));
        if (first != _cluster.Gate.Hit)
        {
            _cluster.Gate.Disarm();
            Trace.Add("  the armed call did not happen; victim ended: " + (victim.IsCompleted ? victim.Result.ToString() : "still running"));
        }
        else
        {
            Trace.Add("  frozen: " + await _cluster.Gate.Hit);
            if (lease)
            {
                var expired = await _cluster.Locks(host).ExpireHeldLeasesAsync();
                _totals.LeasesExpired += expired;
                Trace.Add($"  leases run out under host {host}: {expired}");
            }

            if (restart)
            {
                await _cluster.RestartHostAsync(host);
                _totals.Restarts++;
            }

            var racer = await AppendAsync(upload, other, racerChunk, null, checksum, "racer append");
            Trace.Add("  racer: " + (racer?.ToString() ?? "nothing to send"));
            if (revokeOnWake && !restart)
            {
                _cluster.Locks(host).RevokeExpired();
            }

            _cluster.Gate.Release();
        }

        try
        {
            var answer = await victim.WaitAsync(RequestWait);
            Trace.Add("  victim: " + answer);
        }
        catch (TimeoutException)
        {
            Violate($"{upload.Name}: the woken victim's request did not end within {RequestWait.TotalSeconds} s");
        }
    }

    private async Task CheckAfterStepAsync()
    {
        foreach (var upload in _uploads.Where(u => u.Created))
        {
            // Any host will do; they share the stores.
            var host = _random.Next(_cluster.HostCount);
            var answer = await StatusAsync(upload, host, "check after step");
            if (!answer.IsSuccess)
            {
                Trace.Add($"  check: {upload.Name} status via host {host}: {answer}");
            }
        }

        foreach (var completion in _cluster.Completions.All.Where(c => c.Count > 1))
        {
            Violate($"OnCompleted ran {completion.Count} times for {completion.FileId}");
        }
    }

    private async Task FinishAsync(SimUpload upload)
    {
        if (!upload.Created)
        {
            await CreateAsync(upload, 0, upload.Content.Length);
            if (!upload.Created)
            {
                return;
            }
        }

        for (var attempt = 0; attempt < 40; attempt++)
        {
            var host = attempt % _cluster.HostCount;
            var status = await StatusAsync(upload, host, "finish: status");
            if (status is { IsSuccess: true, Complete: true } && status.Offset == upload.Content.Length)
            {
                return;
            }

            var answer = await AppendAsync(upload, host, upload.Content.Length, null, false, "finish append");
            if (answer is { IsSuccess: true, Complete: true })
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        Violate($"{upload.Name} could not be finished without faults within 40 attempts");
    }

    private async Task VerifyAsync()
    {
        foreach (var upload in _uploads.Where(u => u.Created))
        {
            var completion = upload.Client switch
            {
                XFileIdClient x => _cluster.Completions.ForFileId(f => f == x.FileId),
                TusClient t => _cluster.Completions.ForFileId(f => t.Path is not null && f.EndsWith(t.Path.Split('/')[^1], StringComparison.Ordinal)),
                _ => null,
            };
            var expected = Convert.ToHexStringLower(SHA256.HashData(upload.Content));
            if (completion is null)
            {
                Violate($"{upload.Name}: OnCompleted never ran");
                continue;
            }

            if (completion.Count != 1)
            {
                Violate($"{upload.Name}: OnCompleted ran {completion.Count} times");
            }

            if (completion.FirstSha256 != expected || completion.Length != upload.Content.Length)
            {
                Violate($"{upload.Name}: OnCompleted saw {completion.Length} B with SHA-256 {completion.FirstSha256}, expected {upload.Content.Length} B with {expected}");
            }

            await using var stream = await _cluster.DataStore(0).OpenReadAsync(completion.Key, CancellationToken.None);
            if (stream is null)
            {
                Violate($"{upload.Name}: the finished bytes are gone from the data store");
                continue;
            }

            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            var stored = copy.ToArray();
            if (!stored.AsSpan().SequenceEqual(upload.Content))
            {
                var firstDifference = stored.AsSpan().CommonPrefixLength(upload.Content);
                Violate($"{upload.Name}: the final file ({stored.Length} B) differs from the content ({upload.Content.Length} B) from byte {firstDifference} on; acknowledged were {upload.Acknowledged} B");
            }
        }
    }

    /// <summary>Invariant 1: no host ever reports less than was acknowledged before the request was sent.</summary>
    private void Observe(SimUpload upload, Answer answer, long acknowledgedBefore, string what)
    {
        Trace.Add($"    {upload.Name} {what}: {answer}");
        if (answer.Offset is not long offset || answer.Status is 404 or 400)
        {
            return;
        }

        if (offset < acknowledgedBefore)
        {
            Violate($"{upload.Name}: {what} reported offset {offset} below the {acknowledgedBefore} acknowledged before ({answer})");
        }

        if (offset > upload.Content.Length)
        {
            Violate($"{upload.Name}: {what} reported offset {offset} beyond the length {upload.Content.Length}");
        }

        upload.Acknowledged = Math.Max(upload.Acknowledged, offset);
    }

    private void Violate(string message)
    {
        var text = $"[{_step}] {message}";
        Violations.Add(text);
        Trace.Add("  VIOLATION " + text);
    }
}
