using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>
/// Keeps each upload's bytes in one file under <c>{root}/data</c>, written with positional writes on a file handle
/// (no <see cref="FileStream"/> buffering, so a completed write is already in the operating system's hands).
/// </summary>
internal sealed class FileSystemUploadDataStore : IUploadDataStore, IUploadDataConcatenation
{
    private readonly FileSystemPaths _paths;

    public FileSystemUploadDataStore(FileSystemPaths paths) => _paths = paths;

    public ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var path = _paths.DataPath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, FileOptions.None);
        try
        {
            var length = RandomAccess.GetLength(handle);
            if (length < offset)
            {
                return ValueTask.FromResult<IUploadDataWriter>(new Writer(handle, length));
            }

            if (length > offset)
            {
                // Bytes written by a writer that died before publishing them: the client will send them again.
                RandomAccess.SetLength(handle, offset);
            }

            return ValueTask.FromResult<IUploadDataWriter>(new Writer(handle, offset));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var path = _paths.DataPath(key);
        try
        {
            Stream stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0,
            });
            return ValueTask.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return ValueTask.FromResult<Stream?>(null);
        }
    }

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken)
    {
        var path = _paths.DataPath(targetKey);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (target.ConfigureAwait(false))
            {
                foreach (var sourceKey in sourceKeys)
                {
                    var source = new FileStream(_paths.DataPath(sourceKey), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    await using (source.ConfigureAwait(false))
                    {
                        await source.CopyToAsync(target, 1 << 20, cancellationToken).ConfigureAwait(false);
                    }
                }

                target.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = _paths.DataPath(key);
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Writes with synchronous positional writes on the handle: a write to the page cache is a memory copy, and the
    /// asynchronous form would queue every pipe segment to the thread pool. A sequence (what one pipe read returned,
    /// in Kestrel's 4 KiB blocks) goes to the operating system in one vectored write of the pipe's own buffers:
    /// <c>pwritev</c> on Linux, with a reused vector and pinned handles, so a chunk costs no allocation (the
    /// <see cref="RandomAccess"/> overload for a list of buffers allocates its own arrays on every call).
    /// </summary>
    private sealed class Writer : IUploadDataWriter, IUploadDataSequenceWriter
    {
        private readonly SafeFileHandle _handle;
        private VectoredWriter? _vectored;

        public Writer(SafeFileHandle handle, long position)
        {
            _handle = handle;
            Position = position;
        }

        public long Position { get; private set; }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            RandomAccess.Write(_handle, data.Span, Position);
            Position += data.Length;
            return ValueTask.CompletedTask;
        }

        public ValueTask WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
        {
            if (data.IsSingleSegment)
            {
                RandomAccess.Write(_handle, data.FirstSpan, Position);
                Position += data.Length;
                return ValueTask.CompletedTask;
            }

            if (VectoredWriter.IsSupported)
            {
                _vectored ??= new VectoredWriter();
                Position = _vectored.Write(_handle, data, Position);
                return ValueTask.CompletedTask;
            }

            foreach (var segment in data)
            {
                RandomAccess.Write(_handle, segment.Span, Position);
                Position += segment.Length;
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken)
        {
            // Positional writes bypass user-space buffers, so the bytes are already with the operating system.
            if (toDisk)
            {
                RandomAccess.FlushToDisk(_handle);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _handle.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
