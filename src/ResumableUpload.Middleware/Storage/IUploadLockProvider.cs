namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// Grants one writer per upload. The in-process provider is the default; a distributed provider is needed
/// when several app instances share the stores.
/// </summary>
public interface IUploadLockProvider
{
    /// <summary>
    /// Tries to take the lock for <paramref name="key"/>, waiting at most <paramref name="timeout"/>.
    /// Returns the held lock (dispose it to release), or <see langword="null"/> when another writer kept it.
    /// </summary>
    ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken);
}
