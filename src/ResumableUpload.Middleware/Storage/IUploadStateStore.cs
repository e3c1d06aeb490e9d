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

    /// <summary>
    /// Claims the upload for the holder of a newly granted lease, before that holder changes anything (the engine calls
    /// it right after acquiring the lock, before it truncates, opens or writes a byte). Atomically: when the fencing
    /// token stored for <paramref name="key"/> (the record's, or the one a deleted record left behind) is lower than
    /// <paramref name="fencingToken"/>, stores <paramref name="fencingToken"/> as the record's token and returns the
    /// record as it now is (<see langword="null"/> when there is no record); when it is equal or higher, changes
    /// nothing and throws <see cref="UploadLeaseLostException"/>. From then on a holder with a lower token can neither
    /// save nor delete the record. Only called with tokens above 0 (a lock provider that grants leases).
    /// </summary>
    /// <param name="key">The upload key.</param>
    /// <param name="fencingToken">The new lease's <see cref="IUploadLease.FencingToken"/>.</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken);

    /// <summary>
    /// Creates or replaces the record with the same <see cref="UploadRecord.Key"/>. Durable when the call returns. A
    /// store that fences refuses the save with <see cref="UploadLeaseLostException"/> when the token stored for the key
    /// is higher than <see cref="UploadRecord.FencingToken"/> (equal is the same holder saving again).
    /// </summary>
    ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the record. Returns <see langword="false"/> when there was none. A store that fences refuses with
    /// <see cref="UploadLeaseLostException"/> when the stored token is higher than <paramref name="fencingToken"/>, and
    /// remembers <paramref name="fencingToken"/> after the removal (a tombstone), so a holder with an older lease
    /// cannot bring the record back.
    /// </summary>
    /// <param name="key">The upload key.</param>
    /// <param name="fencingToken">The deleting holder's token (0 without leases).</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken);

    /// <summary>Lists the records whose <see cref="UploadRecord.ExpiresAt"/> is at or before <paramref name="now"/>.</summary>
    IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);
}
