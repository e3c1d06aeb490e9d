namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// Stores upload <em>state</em>: one <see cref="UploadRecord"/> per key. Implementations must make
/// <see cref="SaveAsync"/> atomic (a reader sees the old record or the new one, never a mix) and must be
/// safe for concurrent use. Writers are serialized per key by the engine's <see cref="IUploadLockProvider"/>;
/// readers never take the lock.
/// </summary>
public interface IUploadStateStore
{
    /// <summary>Returns the record for <paramref name="key"/>, or <see langword="null"/> when there is none.</summary>
    ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Creates or replaces the record with the same <see cref="UploadRecord.Key"/>. Durable when the call returns.</summary>
    ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>Removes the record. Returns <see langword="false"/> when there was none.</summary>
    ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>Lists the records whose <see cref="UploadRecord.ExpiresAt"/> is at or before <paramref name="now"/>.</summary>
    IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);
}
