namespace ResumableUpload.Simulation.Tests.Scheduling;

/// <summary>The store calls the decorators report to the <see cref="StoreGate"/>: one per member of the public store interfaces.</summary>
internal enum StoreCall
{
    LockAcquire,
    LockRelease,
    StateGet,
    StateClaim,
    StateSave,
    StateDelete,
    DataOpenWriter,
    DataOpenRead,
    DataComplete,
    DataDelete,
    WriterWrite,
    WriterFlush,
    WriterDispose,
}

/// <summary>Whether the gate acts before the real call runs or after it returned (the call took effect, its caller has not seen it yet).</summary>
internal enum CallPhase
{
    Before,
    After,
}

/// <summary>What an armed rule does to the call it matches.</summary>
internal enum FaultKind
{
    /// <summary>Holds the call until the schedule releases it: the writer is frozen there, as if its process were stopped.</summary>
    Pause,

    /// <summary>Throws <see cref="IOException"/>: an outage of the store (after the call: the call took effect, the answer was lost).</summary>
    Fail,
}

/// <summary>
/// The scheduler's hand in every store call of every host: the decorators call <see cref="PassAsync"/> before and after
/// each call. The schedule arms one rule at a time ("pause the 2nd writer write on host 1, before it runs"); the call it
/// matches is held until <see cref="Release"/> or fails. Counts every call, pause and failure for the run's summary.
/// </summary>
internal sealed class StoreGate
{
    private readonly object _sync = new();
    private Rule? _armed;
    private TaskCompletionSource? _release;
    private TaskCompletionSource<string> _hit = NewHit();

    public long Calls;
    public long Paused;
    public long Failed;

    /// <summary>Arms <paramref name="kind"/> for the <paramref name="skip"/>+1-th call of <paramref name="call"/> in <paramref name="phase"/> on host <paramref name="host"/>.</summary>
    public void Arm(int host, StoreCall call, CallPhase phase, FaultKind kind, int skip)
    {
        lock (_sync)
        {
            _armed = new Rule(host, call, phase, kind, skip);
            _hit = NewHit();
        }
    }

    /// <summary>Removes the armed rule if nothing matched it yet.</summary>
    public void Disarm()
    {
        lock (_sync)
        {
            _armed = null;
        }
    }

    /// <summary>Completes with a description of the matched call when the armed rule fired.</summary>
    public Task<string> Hit
    {
        get
        {
            lock (_sync)
            {
                return _hit.Task;
            }
        }
    }

    /// <summary>Lets a held call continue.</summary>
    public void Release()
    {
        TaskCompletionSource? release;
        lock (_sync)
        {
            release = _release;
            _release = null;
        }

        release?.TrySetResult();
    }

    public async ValueTask PassAsync(int host, StoreCall call, CallPhase phase, string? key)
    {
        Interlocked.Increment(ref Calls);
        Task? wait = null;
        lock (_sync)
        {
            if (_armed is { } rule && rule.Host == host && rule.Call == call && rule.Phase == phase)
            {
                if (rule.Skip > 0)
                {
                    _armed = rule with { Skip = rule.Skip - 1 };
                }
                else
                {
                    _armed = null;
                    var what = $"{rule.Kind} {call} {phase} on host {host} (key {Short(key)})";
                    _hit.TrySetResult(what);
                    if (rule.Kind == FaultKind.Fail)
                    {
                        Interlocked.Increment(ref Failed);
                        throw new IOException("Simulated store outage: " + what);
                    }

                    Interlocked.Increment(ref Paused);
                    _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _release.Task;
                }
            }
        }

        if (wait is not null)
        {
            await wait.ConfigureAwait(false);
        }
    }

    private static string Short(string? key) => key is null ? "-" : key[..Math.Min(8, key.Length)];

    private static TaskCompletionSource<string> NewHit() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record Rule(int Host, StoreCall Call, CallPhase Phase, FaultKind Kind, int Skip);
}
