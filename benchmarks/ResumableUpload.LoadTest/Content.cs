using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ResumableUpload.LoadTest;

/// <summary>
/// The bytes of an upload, from its seed, without generating them: a 16 MiB pool of SplitMix64 output is made once,
/// and 256 KiB chunk <c>k</c> of the content with seed <c>s</c> is the pool slice at an offset derived from
/// <c>(s, k)</c>. Sending costs no CPU beyond the socket write (the client shares the cores with the server), and
/// any range can be produced again, so no upload is ever held in memory.
/// </summary>
internal static class Content
{
    public const int ChunkSize = 256 * 1024;
    private const int PoolSize = 16 * 1024 * 1024;
    private static readonly byte[] Pool = CreatePool();
    private static readonly ConcurrentDictionary<(ulong Seed, long Size), string> Hashes = new();

    /// <summary>Calls <paramref name="write"/> with the slices that make bytes [start, end) of content <paramref name="seed"/>.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Slices(ulong seed, long start, long end)
    {
        var position = start;
        while (position < end)
        {
            var chunk = position / ChunkSize;
            var within = (int)(position % ChunkSize);
            var count = (int)Math.Min(ChunkSize - within, end - position);
            yield return Pool.AsMemory(ChunkOffset(seed, chunk) + within, count);
            position += count;
        }
    }

    /// <summary>The SHA-256 (lowercase hex) of content <paramref name="seed"/> of <paramref name="size"/> bytes.</summary>
    public static string Sha256(ulong seed, long size) => Hashes.GetOrAdd((seed, size), static key =>
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var slice in Slices(key.Seed, 0, key.Size))
        {
            hash.AppendData(slice.Span);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    });

    private static int ChunkOffset(ulong seed, long chunk)
    {
        var mixed = Mix(seed ^ ((ulong)chunk * 0xD1B54A32D192ED03UL));
        return (int)(mixed % (PoolSize - ChunkSize)) & ~7;
    }

    private static byte[] CreatePool()
    {
        var pool = GC.AllocateUninitializedArray<byte>(PoolSize);
        var words = MemoryMarshal.Cast<byte, ulong>(pool.AsSpan());
        var state = 0x5EEDUL;
        for (var i = 0; i < words.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            words[i] = Finalize(state);
        }

        return pool;
    }

    public static ulong Mix(ulong z) => Finalize(z + 0x9E3779B97F4A7C15UL);

    private static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>A request body streaming bytes [start, end) of a content with a <c>Content-Length</c>; counts what it sends.</summary>
internal sealed class GeneratedContent : HttpContent
{
    private readonly ulong _seed;
    private readonly long _start;
    private readonly long _end;
    private readonly Progress _progress;

    public GeneratedContent(ulong seed, long start, long end, Progress progress, string contentType)
    {
        _seed = seed;
        _start = start;
        _end = end;
        _progress = progress;
        Headers.TryAddWithoutValidation("Content-Type", contentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        foreach (var slice in Content.Slices(_seed, _start, _end))
        {
            await stream.WriteAsync(slice, cancellationToken);
            _progress.Add(slice.Length);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _end - _start;
        return true;
    }
}
