using System.Collections.Concurrent;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>The store calls a <see cref="FaultPlan"/> can make fail.</summary>
internal enum FaultPoint
{
    StateGet,
    StateSave,
    StateDelete,
    DataOpenWriter,
    DataOpenRead,
    DataComplete,
    DataDelete,
    WriterWrite,
    WriterFlush,
    LockAcquire,
}

/// <summary>What an injected failure looks like to the engine.</summary>
internal enum FaultKind
{
    /// <summary>The store is unreachable: a plain <see cref="IOException"/> (the client must get 503).</summary>
    Outage,

    /// <summary>
    /// The store is out of space: the <see cref="IOException"/> .NET throws on Linux for ENOSPC
    /// (message "No space left on device : 'path'", HResult = errno 28). The client must get 507.
    /// </summary>
    DiskFull,
}

/// <summary>One armed fault.</summary>
/// <param name="Point">The store call that fails.</param>
/// <param name="Kind">Outage (503) or disk full (507).</param>
/// <param name="PastByte">
/// When set, only a call that would take the upload past this many bytes fails: a write whose end is past it, a
/// flush of a position past it, a state save (or completion) of an offset past it. Otherwise every call fails.
/// </param>
/// <param name="PartialWrite">
/// For <see cref="FaultPoint.WriterWrite"/> with <paramref name="PastByte"/>: the bytes up to the limit are written
/// to the real file before the failure (what a real full disk does), though the writer does not count them.
/// </param>
internal sealed record FaultRule(FaultPoint Point, FaultKind Kind, long? PastByte, bool PartialWrite)
{
    private int _remaining = int.MaxValue;

    /// <summary>How many more times the rule fires (default: until cleared).</summary>
    public int Remaining
    {
        get => Volatile.Read(ref _remaining);
        init => _remaining = value;
    }

    internal bool TryConsume()
    {
        while (true)
        {
            var current = Volatile.Read(ref _remaining);
            if (current <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _remaining, current - 1, current) == current)
            {
                return true;
            }
        }
    }
}

/// <summary>
/// The shared, thread-safe switchboard of the fault-injecting stores: tests arm faults (<see cref="Fail"/>), the
/// wrappers consult it on every call, and <see cref="Clear"/> ends the outage.
/// </summary>
internal sealed class FaultPlan
{
    private readonly List<FaultRule> _rules = [];
    private readonly ConcurrentDictionary<FaultPoint, int> _calls = new();
    private readonly ConcurrentDictionary<FaultPoint, int> _injected = new();

    /// <summary>Arms a fault. <paramref name="times"/> limits how often it fires (default: until <see cref="Clear"/>).</summary>
    public FaultRule Fail(FaultPoint point, FaultKind kind = FaultKind.Outage, long? pastByte = null, int times = int.MaxValue, bool partialWrite = false)
    {
        var rule = new FaultRule(point, kind, pastByte, partialWrite) { Remaining = times };
        lock (_rules)
        {
            _rules.Add(rule);
        }

        return rule;
    }

    /// <summary>Ends every armed fault (the store is back).</summary>
    public void Clear()
    {
        lock (_rules)
        {
            _rules.Clear();
        }
    }

    /// <summary>How many calls reached <paramref name="point"/> (failed or not).</summary>
    public int Calls(FaultPoint point) => _calls.GetValueOrDefault(point);

    /// <summary>How many failures were injected at <paramref name="point"/>.</summary>
    public int Injected(FaultPoint point) => _injected.GetValueOrDefault(point);

    /// <summary>Throws when an armed rule matches a call at <paramref name="point"/> that reaches <paramref name="position"/>.</summary>
    public void Check(FaultPoint point, long? position = null, string? path = null)
    {
        _calls.AddOrUpdate(point, 1, (_, n) => n + 1);
        if (Match(point, r => r.PastByte is null || (position is long p && p > r.PastByte)) is { } rule)
        {
            throw Create(rule, path);
        }
    }

    /// <summary>
    /// For a write of <paramref name="length"/> bytes at <paramref name="position"/>: the failure to throw (or
    /// <see langword="null"/>) and how many of its bytes to write first.
    /// </summary>
    public (Exception? Failure, int WriteFirst) CheckWrite(long position, int length, string? path)
    {
        _calls.AddOrUpdate(FaultPoint.WriterWrite, 1, (_, n) => n + 1);
        var rule = Match(FaultPoint.WriterWrite, r => r.PastByte is null || position + length > r.PastByte);
        if (rule is null)
        {
            return (null, 0);
        }

        var first = rule is { PartialWrite: true, PastByte: long limit } && limit > position ? (int)(limit - position) : 0;
        return (Create(rule, path), first);
    }

    private FaultRule? Match(FaultPoint point, Func<FaultRule, bool> applies)
    {
        lock (_rules)
        {
            foreach (var rule in _rules)
            {
                if (rule.Point == point && applies(rule) && rule.TryConsume())
                {
                    _injected.AddOrUpdate(point, 1, (_, n) => n + 1);
                    return rule;
                }
            }
        }

        return null;
    }

    private static IOException Create(FaultRule rule, string? path) => rule.Kind switch
    {
        // What System.IO throws on Linux for ENOSPC: Interop.GetIOException(errorInfo, path) builds
        // new IOException($"{strerror} : '{path}'", errorInfo.RawErrno), so HResult is the raw errno 28.
        FaultKind.DiskFull => new IOException($"No space left on device : '{path ?? "(store)"}'", 28),
        _ => new IOException($"Injected outage of the upload store at {rule.Point}."),
    };
}
