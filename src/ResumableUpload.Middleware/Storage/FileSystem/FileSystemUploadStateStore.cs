using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;
using ResumableUpload.Middleware.Diagnostics;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>
/// Keeps one small JSON file per upload under <c>{root}/state</c>. Readers see either the old record or the new one:
/// the first save (and every save with <see cref="UploadDurability.FSync"/>) writes a temporary file and renames it
/// over the old one; later saves overwrite the file in place under an exclusive file lock (see
/// <see cref="TryOverwrite"/>). Readers never take the upload's lock, only a shared lock on the file while they read it.
/// </summary>
internal sealed class FileSystemUploadStateStore : IUploadStateStore
{
    /// <summary>The largest record overwritten in place: one page, which a single write never tears.</summary>
    private const int InPlaceLimit = 4096;

    /// <summary>Larger state files are not records this store wrote.</summary>
    private const int MaxStateFileLength = 16 << 20;

    private const int ReadAttempts = 200;

    /// <summary>Whether .NET locks files on open (it does unless turned off), which in-place saves rely on.</summary>
    private static readonly bool FileLocking = !(AppContext.TryGetSwitch("System.IO.DisableFileLocking", out var disabled) && disabled)
        && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING") is not ("1" or "true" or "True" or "TRUE");

    /// <summary>How many records <see cref="GetAsync"/> keeps in memory at most.</summary>
    private const int MaxCachedRecords = 4096;

    private readonly ConcurrentDictionary<string, CachedRecord> _cache = new(StringComparer.Ordinal);
    private readonly bool _cacheReads;
    private readonly FileSystemPaths _paths;
    private readonly IOptionsMonitor<ResumableUploadOptions> _options;
    private readonly ILogger _logger;

    /// <param name="paths">Where the files are.</param>
    /// <param name="options">The engine's options (durability).</param>
    /// <param name="logger">The store's logger.</param>
    /// <param name="locks">
    /// The lock provider. Reads are answered from memory only when it is the in-process one: then this process is the
    /// directory's only writer (another instance on a shared directory would need a distributed lock provider, and
    /// its saves could leave a file whose length and write time look unchanged, so every read goes to the file).
    /// </param>
    public FileSystemUploadStateStore(FileSystemPaths paths, IOptionsMonitor<ResumableUploadOptions> options, ILogger<FileSystemUploadStateStore> logger, IUploadLockProvider? locks = null)
    {
        _paths = paths;
        _options = options;
        _logger = logger;
        _cacheReads = locks is InProcessUploadLockProvider;
    }

    /// <summary>
    /// Reads a record. With the in-process lock provider (this process is the only writer), the last record saved or
    /// read for each key is kept with the length and write time of its file;
    /// while one <c>stat</c> of the file still shows them, the record is answered from memory (an offset query then
    /// costs a <c>stat</c> instead of an open, a lock, a read and a parse). A file changed by anything else shows a
    /// new write time or length and is read again.
    /// </summary>
    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<UploadRecord?>(cancellationToken);
        }

        var path = _paths.StatePath(key);
        if (!_cacheReads)
        {
            var read = Read(path, cancellationToken, out var exists);
            return ValueTask.FromResult(exists ? read : null);
        }

        _cache.TryGetValue(key, out var cached);
        // The file's stamp is taken before it is read: a save in between makes the stamp stale, never the record.
        var stamp = Stamp(path);
        if (cached is not null && stamp == cached.Stamp)
        {
            return ValueTask.FromResult<UploadRecord?>(cached.Record);
        }

        var record = Read(path, cancellationToken, out var found);
        if (!found || record is null)
        {
            if (cached is not null)
            {
                _cache.TryRemove(new KeyValuePair<string, CachedRecord>(key, cached));
            }

            return ValueTask.FromResult<UploadRecord?>(null);
        }

        if (stamp is not null)
        {
            // Only if no save replaced the entry meanwhile: a save's entry is always the newer one.
            var entry = new CachedRecord(record, stamp.Value);
            if (cached is null)
            {
                if (_cache.TryAdd(key, entry))
                {
                    TrimCache();
                }
            }
            else
            {
                _cache.TryUpdate(key, entry, cached);
            }
        }

        return ValueTask.FromResult<UploadRecord?>(record);
    }

    private void Remember(string key, string path, UploadRecord record)
    {
        if (!_cacheReads)
        {
            return;
        }

        if (Stamp(path) is { } stamp)
        {
            _cache[key] = new CachedRecord(record, stamp);
            TrimCache();
        }
        else
        {
            _cache.TryRemove(key, out _);
        }
    }

    /// <summary>Keeps the cache bounded: past <see cref="MaxCachedRecords"/> keys it starts again empty.</summary>
    private void TrimCache()
    {
        if (_cache.Count > MaxCachedRecords)
        {
            _cache.Clear();
        }
    }

    /// <summary>The file's length and last write time (one <c>stat</c>), or null when it does not exist.</summary>
    private static FileStamp? Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? new FileStamp(info.Length, info.LastWriteTimeUtc.Ticks) : null;
    }

    private readonly record struct FileStamp(long Length, long LastWriteTicks);

    private sealed record CachedRecord(UploadRecord Record, FileStamp Stamp);

    /// <summary>
    /// Claims the record for a new lease. The check and the write are two steps (files have no compare-and-set), so the
    /// fencing of this store is best effort: enough against a holder that wakes up long after it was paused, not against
    /// two holders racing within microseconds. Several instances should keep their state in Redis or PostgreSQL.
    /// </summary>
    public async ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(key);
        var current = Read(path, cancellationToken, out var found);
        if (!found || current is null)
        {
            return null;
        }

        ThrowIfNewer(current, fencingToken, equalToo: true);
        var claimed = current with { FencingToken = fencingToken };
        await SaveCoreAsync(claimed, cancellationToken).ConfigureAwait(false);
        return claimed;
    }

    public async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        if (record.FencingToken > 0 && Read(_paths.StatePath(record.Key), cancellationToken, out _) is { } current)
        {
            ThrowIfNewer(current, record.FencingToken, equalToo: false);
        }

        await SaveCoreAsync(record, cancellationToken).ConfigureAwait(false);
    }

    private static void ThrowIfNewer(UploadRecord current, long fencingToken, bool equalToo)
    {
        if (current.FencingToken > fencingToken || (equalToo && current.FencingToken == fencingToken))
        {
            throw new UploadLeaseLostException($"The record of upload {current.Key} holds fencing token {current.FencingToken}; this request's lease ({fencingToken}) is older. Nothing was changed.");
        }
    }

    private async ValueTask SaveCoreAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(record.Key);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.UploadRecord);
        var fsync = _options.CurrentValue.Durability == UploadDurability.FSync;
        bool overwritten;
        try
        {
            overwritten = !fsync && FileLocking && bytes.Length <= InPlaceLimit && TryOverwrite(path, bytes);
        }
        catch
        {
            _cache.TryRemove(record.Key, out _);
            throw;
        }

        if (overwritten)
        {
            Remember(record.Key, path, record);
            return;
        }

        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $"{record.Key}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None))
            {
                await RandomAccess.WriteAsync(handle, bytes, 0, cancellationToken).ConfigureAwait(false);
                if (fsync)
                {
                    RandomAccess.FlushToDisk(handle);
                }
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            _cache.TryRemove(record.Key, out _);
            TryDelete(temporary);
            throw;
        }

        Remember(record.Key, path, record);
    }

    /// <summary>
    /// Replaces the record of an existing state file in place: one positional write of at most one page at offset 0,
    /// padded with spaces (which JSON ignores) to the old length, so the file never shrinks and no new file is made.
    /// A new file per save (write a temporary file, rename it over) costs an inode allocation and an inode deletion;
    /// on ext4 the inodes deleted in the last seconds make each allocation scan further, which measured as the
    /// largest cost of a publish. The write happens under an exclusive lock on the open file (what
    /// <see cref="FileShare.None"/> takes on Unix, and Windows' share mode), and readers open with a shared one, so no
    /// reader sees half a record; a single write of one page is not torn by a process kill. Returns
    /// <see langword="false"/> (the caller then writes a new file and renames it) when there is no file yet, the
    /// file is busy, or the record would not fit the page.
    /// </summary>
    private static bool TryOverwrite(string path, byte[] bytes)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.None, FileOptions.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // missing, or a reader holds it right now
        }

        using (handle)
        {
            var oldLength = RandomAccess.GetLength(handle);
            if (oldLength > InPlaceLimit)
            {
                return false;
            }

            if (oldLength <= bytes.Length)
            {
                RandomAccess.Write(handle, bytes, 0);
                return true;
            }

            var padded = ArrayPool<byte>.Shared.Rent((int)oldLength);
            try
            {
                bytes.CopyTo(padded, 0);
                padded.AsSpan(bytes.Length, (int)oldLength - bytes.Length).Fill((byte)' ');
                RandomAccess.Write(handle, padded.AsSpan(0, (int)oldLength), 0);
                return true;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(padded);
            }
        }
    }

    /// <summary>
    /// Reads and parses a state file with one synchronous read (a state file is a few hundred bytes). A file being
    /// overwritten in place is locked for a moment: the read is tried again.
    /// </summary>
    private UploadRecord? Read(string path, CancellationToken cancellationToken, out bool found)
    {
        for (var attempt = 0; ; attempt++)
        {
            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                found = false;
                return null;
            }
            catch (IOException) when (attempt < ReadAttempts && File.Exists(path))
            {
                // Locked by an in-place save that takes microseconds.
                cancellationToken.ThrowIfCancellationRequested();
                if (attempt < 10)
                {
                    Thread.Yield();
                }
                else
                {
                    Thread.Sleep(1);
                }

                continue;
            }

            using (handle)
            {
                found = true;
                var length = (int)Math.Min(RandomAccess.GetLength(handle), MaxStateFileLength);
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                try
                {
                    var read = 0;
                    int n;
                    while (read < length && (n = RandomAccess.Read(handle, buffer.AsSpan(read, length - read), read)) > 0)
                    {
                        read += n;
                    }

                    return Deserialize(buffer.AsSpan(0, read), path);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
    }

    /// <summary>Removes the state file. Fencing is best effort (see <see cref="ClaimAsync"/>); no tombstone is kept.</summary>
    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(key);
        _cache.TryRemove(key, out _);
        if (!File.Exists(path))
        {
            return ValueTask.FromResult(false);
        }

        if (fencingToken > 0 && Read(path, cancellationToken, out _) is { } current)
        {
            ThrowIfNewer(current, fencingToken, equalToo: false);
        }

        File.Delete(path);
        _cache.TryRemove(key, out _);
        return ValueTask.FromResult(true);
    }

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_paths.StateRoot))
        {
            yield break;
        }

        foreach (var path in Directory.EnumerateFiles(_paths.StateRoot, "*.json", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = Read(path, cancellationToken, out _);
            if (record is not null && record.ExpiresAt <= now)
            {
                yield return record;
            }
        }

        // Temporary files left by a process killed between write and rename. File times are wall-clock times, so
        // they are compared with the wall clock, not with the injected one.
        foreach (var path in Directory.EnumerateFiles(_paths.StateRoot, "*.tmp", SearchOption.AllDirectories))
        {
            if (File.GetLastWriteTimeUtc(path) < DateTime.UtcNow.AddHours(-1))
            {
                TryDelete(path);
            }
        }
    }

    private UploadRecord? Deserialize(ReadOnlySpan<byte> bytes, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, StoreJsonContext.Default.UploadRecord);
        }
        catch (JsonException ex)
        {
            Log.CorruptStateFile(_logger, path, ex);
            return null;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
