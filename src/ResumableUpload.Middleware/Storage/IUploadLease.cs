namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// A held upload lock that is a <em>lease</em>, as distributed lock providers grant it: it expires when its holder
/// dies, so another instance can take over. A lock provider returns one from
/// <see cref="IUploadLockProvider.TryAcquireAsync"/> in place of a plain <see cref="IAsyncDisposable"/>.
/// </summary>
/// <remarks>
/// While it holds a lease the engine stamps <see cref="FencingToken"/> on every <see cref="UploadRecord"/> it saves
/// (<see cref="UploadRecord.FencingToken"/>), and stops writing as soon as <see cref="Revoked"/> fires. A state store
/// that enforces fencing refuses a record whose token is lower than the one it holds by throwing
/// <see cref="UploadLeaseLostException"/>, so a holder that lost its lease (a long pause, a network partition) can
/// never publish an offset over the work of the holder that came after it.
/// </remarks>
public interface IUploadLease : IAsyncDisposable
{
    /// <summary>A number that grows every time the lock of this upload is granted (never reused, never smaller).</summary>
    long FencingToken { get; }

    /// <summary>
    /// Cancelled when the holder must stop writing: the lease could not be renewed in time (it may already belong to
    /// someone else), or another instance asked for the upload through <see cref="IUploadLockHandover"/>.
    /// </summary>
    CancellationToken Revoked { get; }
}

/// <summary>
/// An optional capability of an <see cref="IUploadLockProvider"/> whose locks are shared by several instances: asking
/// the holder of an upload's lock, wherever it runs, to finish and let go. Protocols where a new request for an upload
/// ends the earlier one (the IETF draft's HEAD, PATCH and DELETE) use it when the earlier request runs elsewhere.
/// </summary>
public interface IUploadLockHandover
{
    /// <summary>
    /// Signals the current holder of <paramref name="key"/>'s lease (if any) to publish what it has and release the
    /// lock: its <see cref="IUploadLease.Revoked"/> fires. Returns without waiting for the release.
    /// </summary>
    ValueTask RequestHandoverAsync(string key, CancellationToken cancellationToken);
}

/// <summary>
/// Thrown by a fencing state store when a record is saved under a lease that is no longer current (its
/// <see cref="UploadRecord.FencingToken"/> is lower than the stored record's). Nothing was saved.
/// </summary>
public sealed class UploadLeaseLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UploadLeaseLostException()
        : base("The upload's lease was lost: a newer holder has written it since.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public UploadLeaseLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception behind it.</summary>
    public UploadLeaseLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
