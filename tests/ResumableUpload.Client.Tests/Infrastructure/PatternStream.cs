using System.Security.Cryptography;

namespace ResumableUpload.Client.Tests.Infrastructure;

/// <summary>
/// A seekable, read-only stream of deterministic pseudo-random content of any length, generated on the fly: nothing big
/// is written to disk or kept in memory. Each mebibyte is the 1 MiB seeded table rotated by an amount that depends on
/// the mebibyte's number, so no two mebibytes repeat, and reading is a plain copy.
/// </summary>
internal sealed class PatternStream : Stream
{
    private const int TableSize = 1 << 20;
    private readonly byte[] _table = new byte[TableSize];
    private readonly long _length;
    private long _position;

    public PatternStream(long length, int seed = 17)
    {
        _length = length;
        new Random(seed).NextBytes(_table);
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position { get => _position; set => _position = value; }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(long, int), string> Hashes = new();

    /// <summary>The SHA-256 of the content of that length and seed (computed once per process).</summary>
    public static string Sha256(long length, int seed = 17) => Hashes.GetOrAdd((length, seed), static key =>
    {
        using var stream = new PatternStream(key.Item1, key.Item2);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    });

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = (int)Math.Min(buffer.Length, _length - _position);
        for (var done = 0; done < count;)
        {
            var inMebibyte = (int)(_position % TableSize);
            var rotation = (int)((_position / TableSize * 7919) % TableSize);
            var index = (inMebibyte + rotation) % TableSize;
            var run = Math.Min(Math.Min(count - done, TableSize - inMebibyte), TableSize - index);
            _table.AsSpan(index, run).CopyTo(buffer.Slice(done, run));

            done += run;
            _position += run;
        }

        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

    public override long Seek(long offset, SeekOrigin origin)
    {
        _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
