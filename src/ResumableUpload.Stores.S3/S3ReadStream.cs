using Amazon.S3;
using Amazon.S3.Model;

namespace ResumableUpload.Stores.S3;

/// <summary>
/// A finished object read with ranged GETs: seekable (so downloads can answer <c>Range</c> requests). Each GET asks for
/// a window from the current position: 1 MiB after a seek, doubling while the reads go on in sequence (up to 64 MiB),
/// so a short range never makes the server send the rest of a large object. Every GET asks for the ETag seen when the
/// stream was opened, so a replaced object is never mixed with the old one.
/// </summary>
internal sealed class S3ReadStream : Stream
{
    private readonly IAmazonS3 _client;
    private readonly string _bucket;
    private readonly string _key;
    private readonly string? _etag;
    private const long FirstWindow = 1024 * 1024;
    private const long LargestWindow = 64 * 1024 * 1024;
    private GetObjectResponse? _response;
    private long _window = FirstWindow;
    private long _windowEnd;
    private long _position;
    private bool _disposed;

    public S3ReadStream(IAmazonS3 client, string bucket, string key, long length, string? etag)
    {
        _client = client;
        _bucket = bucket;
        _key = key;
        _etag = etag;
        Length = length;
    }

    public override bool CanRead => !_disposed;

    public override bool CanSeek => !_disposed;

    public override bool CanWrite => false;

    public override long Length { get; }

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            if (value != _position)
            {
                CloseResponse();
                _position = value;
                _window = FirstWindow;
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty || _position >= Length)
        {
            return 0;
        }

        while (true)
        {
            if (_response is null)
            {
                _windowEnd = Math.Min(Length, _position + _window);
                _window = Math.Min(_window * 2, LargestWindow);
                _response = await _client.GetObjectAsync(
                    new GetObjectRequest { BucketName = _bucket, Key = _key, ByteRange = new ByteRange(_position, _windowEnd - 1), EtagToMatch = _etag },
                    cancellationToken).ConfigureAwait(false);
            }

            var read = await _response.ResponseStream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read > 0)
            {
                _position += read;
                if (_position >= _windowEnd)
                {
                    CloseResponse();
                }

                return read;
            }

            if (_position < _windowEnd)
            {
                throw new IOException($"The object '{_key}' ended at {_position} of {Length} bytes.");
            }

            CloseResponse();
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseResponse();
        }

        _disposed = true;
        base.Dispose(disposing);
    }

    private void CloseResponse()
    {
        _response?.Dispose();
        _response = null;
    }
}
