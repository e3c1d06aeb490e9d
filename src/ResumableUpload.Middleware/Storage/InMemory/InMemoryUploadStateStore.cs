using System.Globalization;
using System.Runtime.CompilerServices;

namespace ResumableUpload.Middleware.Storage.InMemory;

/// <summary>
/// Upload state in process memory, for tests and demos. Lost when the process ends. Fences like a shared store would:
/// a save, claim or delete with a token below the stored one is refused, and a deleted record's token is remembered.
/// </summary>
internal sealed class InMemoryUploadStateStore : IUploadStateStore
{
    private readonly Dictionary<string, UploadRecord> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _fences = new(StringComparer.Ordinal);

    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<UploadRecord?>(cancellationToken);
        }

        lock (_records)
        {
            return ValueTask.FromResult(_records.TryGetValue(key, out var record) ? record : null);
        }
    }

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        lock (_records)
        {
            var stored = _fences.GetValueOrDefault(key);
            if (stored >= fencingToken)
            {
                return ValueTask.FromException<UploadRecord?>(Refused(key, stored, fencingToken));
            }

            _fences[key] = fencingToken;
            if (!_records.TryGetValue(key, out var record))
            {
                return ValueTask.FromResult<UploadRecord?>(null);
            }

            record = record with { FencingToken = fencingToken };
            _records[key] = record;
            return ValueTask.FromResult<UploadRecord?>(record);
        }
    }

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        lock (_records)
        {
            var stored = _fences.GetValueOrDefault(record.Key);
            if (stored > record.FencingToken)
            {
                return ValueTask.FromException(Refused(record.Key, stored, record.FencingToken));
            }

            _fences[record.Key] = record.FencingToken;
            _records[record.Key] = record;
            return ValueTask.CompletedTask;
        }
    }

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        lock (_records)
        {
            var stored = _fences.GetValueOrDefault(key);
            if (stored > fencingToken)
            {
                return ValueTask.FromException<bool>(Refused(key, stored, fencingToken));
            }

            if (fencingToken > 0)
            {
                _fences[key] = fencingToken; // the tombstone
            }
            else
            {
                _fences.Remove(key);
            }

            return ValueTask.FromResult(_records.Remove(key));
        }
    }

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        UploadRecord[] records;
        lock (_records)
        {
            records = [.. _records.Values];
        }

        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (record.ExpiresAt <= now)
            {
                yield return record;
            }
        }
    }

    private static UploadLeaseLostException Refused(string key, long stored, long token)
        => new(string.Create(CultureInfo.InvariantCulture, $"The record of upload {key} holds fencing token {stored}; this request's lease ({token}) is older. Nothing was changed."));
}
