using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ResumableUpload.Middleware.Storage.InMemory;

/// <summary>Upload state in process memory, for tests and demos. Lost when the process ends.</summary>
internal sealed class InMemoryUploadStateStore : IUploadStateStore
{
    private readonly ConcurrentDictionary<string, UploadRecord> _records = new(StringComparer.Ordinal);

    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
        => cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<UploadRecord?>(cancellationToken)
            : ValueTask.FromResult(_records.TryGetValue(key, out var record) ? record : null);

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        _records[record.Key] = record;
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken)
        => ValueTask.FromResult(_records.TryRemove(key, out _));

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var record in _records.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (record.ExpiresAt <= now)
            {
                yield return record;
            }
        }
    }
}
