using System.Security.Cryptography;

namespace ResumableUpload.Client.Tests.Infrastructure;

/// <summary>
/// A seekable, read-only stream of deterministic pseudo-random content of any length, generated on the fly: nothing big
/// is written to disk or kept in memory. Byte <c>p</c> is a 1 MiB seeded table's byte <c>p mod 1 MiB</c> mixed with the
/// mebibyte number, so no two mebibytes repeat.
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

    public static string Sha256(long length, int seed = 17)
    {
        using var stream = new PatternStream(length, seed);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = (int)Math.Min(buffer.Length, _length - _position);
        for (var done = 0; done < count;)
        {
            var index = (int)(_position % TableSize);
            var mix = (byte)((_position / TableSize * 131) + 7);
            var run = Math.Min(count - done, TableSize - index);
            var target = buffer.Slice(done, run);
            _table.AsSpan(index, run).CopyTo(target);
            for (var i = 0; i < target.Length; i++)
            {
                target[i] ^= mix;
            }

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
