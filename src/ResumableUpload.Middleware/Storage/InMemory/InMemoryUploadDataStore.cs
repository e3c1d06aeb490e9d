using System.Collections.Concurrent;

namespace ResumableUpload.Middleware.Storage.InMemory;

/// <summary>
/// Upload bytes in process memory, for tests and demos. Lost when the process ends; not for large files. Fenced: each
/// upload remembers the newest lease token that opened it, and a writer of an older lease can neither reopen (and so
/// truncate), write, nor complete it.
/// </summary>
internal sealed class InMemoryUploadDataStore : IUploadDataStore, IUploadDataConcatenation
{
    private readonly ConcurrentDictionary<string, Blob> _blobs = new(StringComparer.Ordinal);

    public ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var blob = _blobs.GetOrAdd(key, static _ => new Blob());
        long position;
        lock (blob)
        {
            if (blob.Fence > fencingToken)
            {
                return ValueTask.FromException<IUploadDataWriter>(Superseded(key, blob.Fence, fencingToken));
            }

            blob.Fence = fencingToken;
            position = blob.Length = Math.Min(blob.Length, offset);
        }

        return ValueTask.FromResult<IUploadDataWriter>(new Writer(key, blob, position, fencingToken));
    }

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        if (!_blobs.TryGetValue(key, out var blob))
        {
            return ValueTask.FromResult<Stream?>(null);
        }

        lock (blob)
        {
            return ValueTask.FromResult<Stream?>(new MemoryStream(blob.Buffer, 0, checked((int)blob.Length), writable: false));
        }
    }

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        if (_blobs.TryGetValue(key, out var blob))
        {
            lock (blob)
            {
                if (blob.Fence > fencingToken)
                {
                    return ValueTask.FromException(Superseded(key, blob.Fence, fencingToken));
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    private static UploadLeaseLostException Superseded(string key, long fence, long token)
        => new($"Upload {key} was opened under a newer lease ({fence}) than this writer's ({token}); nothing was changed.");

    public ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken)
    {
        var assembled = new MemoryStream();
        foreach (var sourceKey in sourceKeys)
        {
            if (!_blobs.TryGetValue(sourceKey, out var source))
            {
                throw new InvalidOperationException("A part to concatenate has no bytes.");
            }

            lock (source)
            {
                assembled.Write(source.Buffer, 0, checked((int)source.Length));
            }
        }

        _blobs[targetKey] = new Blob { Buffer = assembled.ToArray(), Length = assembled.Length };
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        _blobs.TryRemove(key, out _);
        return ValueTask.CompletedTask;
    }

    private sealed class Blob
    {
        public byte[] Buffer = [];
        public long Length;
        public long Fence;
    }

    private sealed class Writer(string key, Blob blob, long position, long fencingToken) : IUploadDataWriter
    {
        public long Position { get; private set; } = position;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            lock (blob)
            {
                if (blob.Fence > fencingToken)
                {
                    return ValueTask.FromException(Superseded(key, blob.Fence, fencingToken));
                }

                var end = checked((int)(Position + data.Length));
                if (blob.Buffer.Length < end)
                {
                    // A new array each time it grows: streams handed out earlier keep their snapshot.
                    var grown = new byte[Math.Max(end, Math.Min(int.MaxValue, (long)blob.Buffer.Length * 2))];
                    blob.Buffer.AsSpan(0, checked((int)blob.Length)).CopyTo(grown);
                    blob.Buffer = grown;
                }

                data.Span.CopyTo(blob.Buffer.AsSpan(checked((int)Position)));
                Position += data.Length;
                blob.Length = Position;
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
