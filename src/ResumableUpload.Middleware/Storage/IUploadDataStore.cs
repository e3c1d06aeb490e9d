namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// Stores upload <em>bytes</em>. The engine writes through an <see cref="IUploadDataWriter"/> opened at the
/// published offset, flushes, and only then publishes the new offset to the <see cref="IUploadStateStore"/>.
/// Keys are 64-character lowercase hexadecimal strings derived by the engine, never client input.
/// </summary>
public interface IUploadDataStore
{
    /// <summary>
    /// Opens a writer positioned at <paramref name="offset"/>. Bytes the store holds beyond
    /// <paramref name="offset"/> (left by a writer that died before publishing them) are discarded.
    /// When the store holds fewer bytes than <paramref name="offset"/> (an operating-system crash lost bytes that
    /// had been published), the writer is positioned at the bytes it holds; the engine then lowers the published
    /// offset to match. Creates the upload's data when it does not exist yet.
    /// <para>
    /// One exception to "bytes beyond the offset are discarded": when <see cref="CompleteAsync"/> already sealed the
    /// upload's bytes (its completion was not recorded in the state store: that store failed, or the lease was lost
    /// right after), a store that cannot reopen sealed bytes keeps them and returns a writer positioned at their end.
    /// The engine then records the completion instead of starting over; it writes nothing through that writer.
    /// </para>
    /// </summary>
    /// <param name="key">The upload key.</param>
    /// <param name="offset">The published offset to continue from.</param>
    /// <param name="expectedLength">The total length when known, so a store can preallocate; otherwise <see langword="null"/>.</param>
    /// <param name="fencingToken">
    /// The token of the lease the writer works under (0 when the lock provider grants no leases), already claimed in
    /// the state store. Stores use it where they can (in object or block names, in conditional commits) so a writer
    /// with an older token can neither overwrite nor complete what a newer one wrote.
    /// </param>
    /// <param name="cancellationToken">Cancels opening.</param>
    ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken);

    /// <summary>Opens the stored bytes for reading (seekable where the store can), or <see langword="null"/> when there are none.</summary>
    ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Called when an upload has all its bytes, so a store can assemble or seal them. Idempotent: called again for
    /// bytes it already sealed (the completion was not recorded), it succeeds without changing them.
    /// </summary>
    /// <param name="key">The upload key.</param>
    /// <param name="length">The upload's length.</param>
    /// <param name="fencingToken">The completing writer's lease token (0 without leases); see <see cref="OpenWriterAsync"/>.</param>
    /// <param name="cancellationToken">Cancels completing.</param>
    ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken);

    /// <summary>Removes the bytes. Removing bytes that do not exist is not an error.</summary>
    ValueTask DeleteAsync(string key, CancellationToken cancellationToken);
}

/// <summary>An append-only writer for one upload, used by one request at a time.</summary>
public interface IUploadDataWriter : IAsyncDisposable
{
    /// <summary>The position the next byte is written at (the offset it was opened at plus the bytes written since).</summary>
    long Position { get; }

    /// <summary>Writes <paramref name="data"/> at <see cref="Position"/>. The bytes need not be durable until <see cref="FlushAsync"/> returns.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Makes every byte written so far survive a process kill (<paramref name="toDisk"/> <see langword="false"/>,
    /// handed to the operating system) or a power loss (<paramref name="toDisk"/> <see langword="true"/>, fsync).
    /// </summary>
    ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken);
}
