using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Diagnostics;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>
/// Keeps one small JSON file per upload under <c>{root}/state</c>. A save writes a temporary file and renames it over
/// the old one, so readers (which never lock) see either the old record or the new one.
/// </summary>
internal sealed class FileSystemUploadStateStore : IUploadStateStore
{
    private readonly FileSystemPaths _paths;
    private readonly IOptionsMonitor<ResumableUploadOptions> _options;
    private readonly ILogger _logger;

    public FileSystemUploadStateStore(FileSystemPaths paths, IOptionsMonitor<ResumableUploadOptions> options, ILogger<FileSystemUploadStateStore> logger)
    {
        _paths = paths;
        _options = options;
        _logger = logger;
    }

    public async ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(key);
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return Deserialize(bytes, path);
    }

    public async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(record.Key);
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $"{record.Key}.{Guid.NewGuid():N}.tmp");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.UploadRecord);
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None))
            {
                await RandomAccess.WriteAsync(handle, bytes, 0, cancellationToken).ConfigureAwait(false);
                if (_options.CurrentValue.Durability == UploadDurability.FSync)
                {
                    RandomAccess.FlushToDisk(handle);
                }
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = _paths.StatePath(key);
        if (!File.Exists(path))
        {
            return ValueTask.FromResult(false);
        }

        File.Delete(path);
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
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                continue;
            }

            var record = Deserialize(bytes, path);
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

    private UploadRecord? Deserialize(byte[] bytes, string path)
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
