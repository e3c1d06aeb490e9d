using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>
/// Keeps each upload's bytes in one file under <c>{root}/data</c>, written with positional writes on a file handle
/// (no <see cref="FileStream"/> buffering, so a completed write is already in the operating system's hands).
/// </summary>
/// <remarks>
/// Under a lease (a fencing token above 0: a distributed lock provider with the directory shared by several processes)
/// each upload also has a fence file (<c>{data file}.fence</c>, the newest token that opened it), set under an exclusive
/// lock file (<c>{data file}.lock</c>) when a writer opens. A writer of an older token is refused when it opens (so it
/// cannot truncate what a newer writer wrote), and before each write and flush. That check and the write are two
/// steps, so a process frozen exactly between them can still write once when it wakes: on a shared directory the
/// fencing is best effort, unlike the object stores'. Without leases (the in-process lock) none of this runs.
/// </remarks>
internal sealed class FileSystemUploadDataStore : IUploadDataStore, IUploadDataConcatenation
{
    private readonly FileSystemPaths _paths;

    public FileSystemUploadDataStore(FileSystemPaths paths) => _paths = paths;

    public ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var path = _paths.DataPath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (fencingToken <= 0)
        {
            return ValueTask.FromResult<IUploadDataWriter>(Open(path, offset, fence: null));
        }

        // The check of the fence, its update and the truncation happen under the lock file, so two openers cannot
        // interleave; the lock is held for microseconds.
        using var gate = AcquireGate(path + ".lock", cancellationToken);
        var fence = Fence.Open(path + ".fence", key, fencingToken);
        try
        {
            fence.Claim();
            return ValueTask.FromResult<IUploadDataWriter>(Open(path, offset, fence));
        }
        catch
        {
            fence.Dispose();
            throw;
        }
    }

    private static Writer Open(string path, long offset, Fence? fence)
    {
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, FileOptions.None);
        try
        {
            var length = RandomAccess.GetLength(handle);
            if (length < offset)
            {
                return new Writer(handle, length, fence);
            }

            if (length > offset)
            {
                // Bytes written by a writer that died before publishing them: the client will send them again.
                RandomAccess.SetLength(handle, offset);
            }

            return new Writer(handle, offset, fence);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens the lock file exclusively, retrying briefly while another opener holds it.</summary>
    private static SafeFileHandle AcquireGate(string lockPath, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, FileOptions.None);
            }
            catch (IOException) when (attempt < 2000)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Thread.Sleep(1);
            }
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

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        var fencePath = _paths.DataPath(key) + ".fence";
        if (fencingToken > 0 && File.Exists(fencePath))
        {
            using var fence = Fence.Open(fencePath, key, fencingToken);
            fence.ThrowIfSuperseded();
        }

        return ValueTask.CompletedTask;
    }

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
            File.Delete(path + ".fence");
            File.Delete(path + ".lock");
        }
        catch (DirectoryNotFoundException)
        {
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The fence file of one upload, as one writer holds it: the newest token that opened the upload.</summary>
    private sealed class Fence : IDisposable
    {
        private readonly SafeFileHandle _handle;
        private readonly string _key;
        private readonly long _token;
        private readonly byte[] _buffer = new byte[sizeof(long)];

        private Fence(SafeFileHandle handle, string key, long token)
        {
            _handle = handle;
            _key = key;
            _token = token;
        }

        public static Fence Open(string path, string key, long token)
            => new(File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.None), key, token);

        /// <summary>Records this writer's token as the newest (under the caller's lock file); refuses an older one.</summary>
        public void Claim()
        {
            var stored = Read();
            if (stored > _token)
            {
                throw Superseded(stored);
            }

            if (stored < _token)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(_buffer, _token);
                RandomAccess.Write(_handle, _buffer, 0);
            }
        }

        public void ThrowIfSuperseded()
        {
            var stored = Read();
            if (stored > _token)
            {
                throw Superseded(stored);
            }
        }

        public void Dispose() => _handle.Dispose();

        private long Read()
            => RandomAccess.Read(_handle, _buffer, 0) == sizeof(long) ? System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(_buffer) : 0;

        private UploadLeaseLostException Superseded(long stored)
            => new($"Upload {_key} was opened under a newer lease ({stored}) than this writer's ({_token}); nothing was written.");
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
        private readonly Fence? _fence;
        private VectoredWriter? _vectored;

        public Writer(SafeFileHandle handle, long position, Fence? fence)
        {
            _handle = handle;
            _fence = fence;
            Position = position;
        }

        public long Position { get; private set; }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _fence?.ThrowIfSuperseded();
            RandomAccess.Write(_handle, data.Span, Position);
            Position += data.Length;
            return ValueTask.CompletedTask;
        }

        public ValueTask WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
        {
            _fence?.ThrowIfSuperseded();
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
            _fence?.ThrowIfSuperseded();
            if (toDisk)
            {
                RandomAccess.FlushToDisk(_handle);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _handle.Dispose();
            _fence?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
