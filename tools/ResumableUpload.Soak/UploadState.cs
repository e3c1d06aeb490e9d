using System.Diagnostics;

namespace ResumableUpload.Soak;

/// <summary>One upload of the soak: its size and content (from the seed), what the server acknowledged, and a trace.</summary>
internal sealed class UploadState
{
    private const int TraceLength = 60;
    private readonly Lock _gate = new();
    private readonly Queue<string> _trace = new();
    private readonly Stopwatch _clock;
    private long _acked;

    public UploadState(int index, ulong runSeed, Stopwatch clock, long maxSize)
    {
        Index = index;
        _clock = clock;
        Seed = UploadContent.Mix(UploadContent.Mix(runSeed) ^ (ulong)index);
        Random = new Random(unchecked((int)(Seed >> 33)));
        Size = PickSize(Random, maxSize);
        Id = $"soak-{runSeed}-{index}-{Size}";
    }

    public int Index { get; }

    /// <summary>The seed of the content and of this upload's random decisions.</summary>
    public ulong Seed { get; }

    public string Id { get; }

    public long Size { get; }

    /// <summary>This upload's own random decisions (used by its worker only).</summary>
    public Random Random { get; }

    public byte[]? Sha256 { get; set; }

    /// <summary>The upload has all its bytes (the server said <c>Upload-Complete: ?1</c>).</summary>
    public volatile bool Finished;

    /// <summary>Its download matched the expected SHA-256.</summary>
    public volatile bool Verified;

    /// <summary>When it finished, as the kill count then (for the checks after a restart).</summary>
    public int FinishedAtKill = -1;

    /// <summary>The largest offset a completed response (200 body, or any Upload-Offset header) told the client.</summary>
    public long Acked
    {
        get
        {
            lock (_gate)
            {
                return _acked;
            }
        }
    }

    /// <summary>
    /// Records an offset the server told the client in a completed response. Returns the shortfall when it is
    /// below <paramref name="mustBeAtLeast"/> (an offset acknowledged before the request was sent), else 0.
    /// </summary>
    public long Observe(long offset, long mustBeAtLeast)
    {
        lock (_gate)
        {
            if (offset < mustBeAtLeast)
            {
                // Count a loss once: from now on the server's figure is the reference.
                _acked = offset;
                return mustBeAtLeast - offset;
            }

            _acked = Math.Max(_acked, offset);
            return 0;
        }
    }

    public void Trace(string line)
    {
        lock (_gate)
        {
            _trace.Enqueue($"{_clock.Elapsed.TotalSeconds,8:0.000}s {line}");
            while (_trace.Count > TraceLength)
            {
                _trace.Dequeue();
            }
        }
    }

    public string[] GetTrace()
    {
        lock (_gate)
        {
            return _trace.ToArray();
        }
    }

    /// <summary>
    /// Skewed towards small files: 5 % empty, 45 % up to 64 KiB, 30 % up to 2 MiB, 15 % up to 16 MiB, 5 % up to
    /// <paramref name="maxSize"/> (64 MiB in the single-server soak; at least 16 MiB).
    /// </summary>
    private static long PickSize(Random random, long maxSize)
    {
        var roll = random.NextDouble();
        return roll switch
        {
            < 0.05 => 0,
            < 0.50 => 1 + random.NextInt64(64 << 10),
            < 0.80 => (64 << 10) + random.NextInt64((2 << 20) - (64 << 10) + 1),
            < 0.95 => (2 << 20) + random.NextInt64((16 << 20) - (2 << 20) + 1),
            _ => (16 << 20) + random.NextInt64(maxSize - (16 << 20) + 1),
        };
    }
}
