using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ResumableUpload.Soak;

/// <summary>
/// The bytes of an upload, computed from its seed: block <c>k</c> (64 KiB) is a SplitMix64 stream seeded with the
/// upload's seed and <c>k</c>, so any range can be produced again without keeping the file in memory.
/// </summary>
internal static class UploadContent
{
    public const int BlockSize = 64 * 1024;

    public static void FillBlock(ulong seed, long block, Span<byte> destination)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(destination[..BlockSize]);
        var state = Mix(seed ^ ((ulong)block * 0xD1B54A32D192ED03UL));
        for (var i = 0; i < words.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            words[i] = Finalize(state);
        }
    }

    /// <summary>Copies the bytes at <paramref name="offset"/> of the content into <paramref name="destination"/>.</summary>
    public static void Read(ulong seed, long offset, Span<byte> destination, byte[] scratch)
    {
        while (!destination.IsEmpty)
        {
            var block = offset / BlockSize;
            var within = (int)(offset % BlockSize);
            FillBlock(seed, block, scratch);
            var count = Math.Min(BlockSize - within, destination.Length);
            scratch.AsSpan(within, count).CopyTo(destination);
            destination = destination[count..];
            offset += count;
        }
    }

    public static byte[] Sha256(ulong seed, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var scratch = new byte[BlockSize];
        for (long offset = 0; offset < size; offset += BlockSize)
        {
            FillBlock(seed, offset / BlockSize, scratch);
            hash.AppendData(scratch, 0, (int)Math.Min(BlockSize, size - offset));
        }

        return hash.GetHashAndReset();
    }

    /// <summary>SplitMix64's finalizer, also used to derive seeds.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        return Finalize(z);
    }

    private static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// A request body that streams bytes <c>[start, end)</c> of an upload with a <c>Content-Length</c>. When
/// <c>cutAt</c> is set, it flushes the bytes before it and then cancels the request: a client disconnect part-way.
/// </summary>
internal sealed class GeneratedContent : HttpContent
{
    private readonly ulong _seed;
    private readonly long _start;
    private readonly long _end;
    private readonly long? _cutAt;
    private readonly CancellationTokenSource _cut;
    private readonly Action<long> _sent;

    public GeneratedContent(ulong seed, long start, long end, long? cutAt, CancellationTokenSource cut, Action<long> sent)
    {
        _seed = seed;
        _start = start;
        _end = end;
        _cutAt = cutAt;
        _cut = cut;
        _sent = sent;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var scratch = new byte[UploadContent.BlockSize];
        var chunk = new byte[UploadContent.BlockSize];
        var stop = _cutAt ?? _end;
        var position = _start;
        while (position < stop)
        {
            var count = (int)Math.Min(UploadContent.BlockSize - (position % UploadContent.BlockSize), stop - position);
            UploadContent.Read(_seed, position, chunk.AsSpan(0, count), scratch);
            await stream.WriteAsync(chunk.AsMemory(0, count), cancellationToken);
            position += count;
            _sent(count);
        }

        if (_cutAt is not null)
        {
            // Let the bytes so far reach the server, then drop the connection.
            await stream.FlushAsync(cancellationToken);
            await _cut.CancelAsync();
            throw new OperationCanceledException("The soak cut this request on purpose.", _cut.Token);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _end - _start;
        return true;
    }
}
