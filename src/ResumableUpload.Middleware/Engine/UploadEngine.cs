using System.Buffers;
using System.Security.Cryptography;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware.Engine;

/// <summary>
/// The rules every protocol shares: the offset check, one writer per upload, limits, the durability order
/// (bytes flushed before the offset that counts them is published), events and expiry. Knows nothing of
/// HTTP headers; the protocol fronts translate.
/// </summary>
internal sealed class UploadEngine : IDisposable
{
    private readonly IUploadStateStore _state;
    private readonly IUploadDataStore _data;
    private readonly IUploadLockProvider _locks;
    private readonly ResumableUploadEvents[] _handlers;
    private readonly IOptionsMonitor<ResumableUploadOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public UploadEngine(
        IUploadStateStore state,
        IUploadDataStore data,
        IUploadLockProvider locks,
        IEnumerable<ResumableUploadEvents> handlers,
        IOptionsMonitor<ResumableUploadOptions> options,
        TimeProvider time,
        ResumableUploadDiagnostics diagnostics,
        ILogger<UploadEngine> logger)
    {
        _state = state;
        _data = data;
        _locks = locks;
        _handlers = handlers.ToArray();
        _options = options;
        _time = time;
        Diagnostics = diagnostics;
        _logger = logger;
        _idleSweep = time.CreateTimer(static state => ((UploadEngine)state!).EndIdleWrites(), this, IdleSweepPeriod, IdleSweepPeriod);
    }

    /// <summary>How often appends are checked for a silent body (a fraction of the smallest allowed stall timeout).</summary>
    private static readonly TimeSpan IdleSweepPeriod = TimeSpan.FromMilliseconds(250);

    private readonly ITimer _idleSweep;

    public void Dispose() => _idleSweep.Dispose();

    /// <summary>
    /// The per-request idle timeout: ends every append of this process whose body has sent nothing for
    /// <see cref="ResumableUploadOptions.StalledWriterTimeout"/> while the engine waited for it. Its bytes are published
    /// and its lock released, so a request on any instance can take the upload over, even when nobody asks.
    /// </summary>
    private void EndIdleWrites()
    {
        if (_activeWrites.IsEmpty)
        {
            return;
        }

        var timeout = _options.CurrentValue.StalledWriterTimeout;
        var now = _time.GetUtcNow();
        foreach (var (key, write) in _activeWrites)
        {
            if (write.WaitingSince is { } since && now - since >= timeout && write.MarkIdle())
            {
                Log.IdleRequestEnded(_logger, key, timeout);
                _ = write.Superseded.CancelAsync();
            }
        }
    }

    internal void BeginRead(ActiveWrite write) => write.BeginRead(_time.GetUtcNow());

    internal ResumableUploadDiagnostics Diagnostics { get; }

    internal ResumableUploadOptions Options => _options.CurrentValue;

    internal IUploadDataStore DataStore => _data;

    /// <summary>The append running for each upload key in this process, so a newer request can take over.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ActiveWrite> _activeWrites = new(StringComparer.Ordinal);

    /// <summary>
    /// Ends the append that is writing this upload in this process, if any, and waits (at most
    /// <paramref name="wait"/>) until it has published its bytes and released the upload. Its request is told it
    /// was superseded. Used where a protocol says a new request for an upload ends the earlier one.
    /// </summary>
    public async ValueTask TakeOverAsync(string partition, string fileId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var key = UploadKeys.Create(partition, fileId);
        if (!_activeWrites.TryGetValue(key, out var write))
        {
            if (_locks is IUploadLockHandover handover)
            {
                // The earlier request may be running on another instance: ask its holder to let go. The caller's
                // lock wait then covers the time it takes to publish and release.
                try
                {
                    await handover.RequestHandoverAsync(key, cancellationToken).ConfigureAwait(false);

                    // Wait (at most `wait`) until the holder has published and released, so an offset read next is
                    // the one it ended at, not the one before.
                    var released = await _locks.TryAcquireAsync(key, wait, cancellationToken).ConfigureAwait(false);
                    if (released is not null)
                    {
                        await released.DisposeAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
                {
                    throw StoreFailure(key, ex);
                }
            }

            return;
        }

        await write.Superseded.CancelAsync().ConfigureAwait(false);
        try
        {
            await write.Ended.Task.WaitAsync(wait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The lock wait of the caller decides what happens next.
        }
    }

    internal void Touch(ActiveWrite write) => write.Touch(_time.GetUtcNow());

    internal void EndWrite(string key, ActiveWrite write)
    {
        _activeWrites.TryRemove(new KeyValuePair<string, ActiveWrite>(key, write));
        write.Ended.TrySetResult();
    }

    internal ILogger Logger => _logger;

    /// <summary>The current time of the injected clock.</summary>
    internal DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// Returns the upload's last published state, or <see langword="null"/> when it is unknown, expired or not
    /// this partition's. Never takes the lock, so it answers at once while an append runs.
    /// </summary>
    public async ValueTask<UploadRecord?> FindAsync(string partition, string fileId, CancellationToken cancellationToken)
    {
        var key = UploadKeys.Create(partition, fileId);
        var record = await ReadStateAsync(key, cancellationToken).ConfigureAwait(false);

        return IsVisible(record, partition, fileId) ? record : null;
    }

    /// <summary>Takes the upload's lock and checks the start offset; the returned session writes the body.</summary>
    public async ValueTask<AppendSession> BeginAppendAsync(AppendRequest request, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        ThrowIfTooLarge(request.Length, options);

        var key = UploadKeys.Create(request.Partition, request.FileId);
        if (_activeWrites.TryGetValue(key, out var running) && _time.GetUtcNow() - running.LastProgress >= options.StalledWriterTimeout)
        {
            // The request writing this upload has received nothing for a while (a vanished client on a half-open
            // connection): end it so this one can take over instead of waiting for the data-rate check.
            await TakeOverAsync(request.Partition, request.FileId, options.LockWaitTimeout, cancellationToken).ConfigureAwait(false);
        }

        var held = await AcquireAsync(key, options.LockWaitTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            // Claimed before anything is opened, truncated or written: a paused holder of an older lease that wakes up
            // can no longer publish, complete or delete.
            var existing = await ClaimAsync(key, held, cancellationToken).ConfigureAwait(false);

            if (!IsVisible(existing, request.Partition, request.FileId))
            {
                existing = null;
            }

            if (!request.AllowRestart && existing is null)
            {
                throw new UploadException(UploadError.NotFound, "There is no such upload.");
            }

            if (existing?.Parts is not null)
            {
                throw new UploadException(UploadError.Forbidden, "This upload is assembled from other uploads and takes no bytes of its own.");
            }

            // Start byte 0 starts afresh, except on an upload that has no bytes yet (then it simply continues), and
            // except on a finished upload of the same declared size: that is the same file sent again (a retry, or a
            // duplicate request delivered late, for example by an instance that was paused), and restarting would
            // discard finished bytes for a body that may never arrive whole. It is answered 409 with the full count,
            // which tells the client it is done. A different or absent X-File-Size still restarts.
            var duplicateOfFinished = existing is { IsCompleted: true } && request.Length is long sameSize && existing.Length == sameSize;
            var restart = request.AllowRestart
                && request.StartOffset == 0
                && !duplicateOfFinished
                && !(existing is { Offset: 0, IsCompleted: false } && (request.Length is null || existing.Length is null || existing.Length == request.Length));

            var record = existing;
            if (!restart)
            {
                if (existing is null || existing.Offset != request.StartOffset)
                {
                    Diagnostics.Conflicts.Add(1);
                    var current = existing?.Offset ?? 0;
                    throw new UploadException(UploadError.OffsetMismatch, $"The start byte {request.StartOffset} does not match the {current} bytes stored for this upload.")
                    {
                        CurrentOffset = current,
                    };
                }

                if (request.Length is long length && existing.Length != length)
                {
                    if (existing.Length is not null || existing.IsCompleted)
                    {
                        Diagnostics.Conflicts.Add(1);
                        throw new UploadException(UploadError.LengthMismatch, $"The declared length {length} differs from the length {existing.Length ?? existing.Offset} stored for this upload.")
                        {
                            CurrentOffset = existing.Offset,
                        };
                    }

                    record = existing with { Length = length };
                }
            }

            // Refuse a body that cannot fit before anything is changed: a refused restart must not wipe the upload.
            if (request.ContentLength is long contentLength)
            {
                if (!restart && existing!.IsCompleted)
                {
                    if (contentLength > 0)
                    {
                        throw new UploadException(UploadError.AlreadyCompleted, "This upload already has all of its bytes.") { CurrentOffset = existing.Offset };
                    }
                }
                else
                {
                    var offset = restart ? 0 : existing!.Offset;
                    var declaredLength = restart ? request.Length : record!.Length;
                    var limit = declaredLength ?? options.MaxUploadSize;
                    if (contentLength > limit - offset)
                    {
                        var what = declaredLength is null ? "maximum upload size" : "declared length";
                        throw new UploadException(UploadError.TooLarge, $"The body ({contentLength} bytes from byte {offset}) goes past the {what} of {limit} bytes.")
                        {
                            CurrentOffset = existing?.Offset ?? 0,
                        };
                    }
                }
            }

            if (restart)
            {
                var creation = new CreateUploadRequest(request.Partition, request.FileId, request.Length, request.HttpContext) { Metadata = request.Metadata };
                record = await CreateCoreAsync(key, creation, isRestart: existing is not null, FenceOf(held), cancellationToken).ConfigureAwait(false);
            }
            else if (record!.Offset > 0 && !record.IsCompleted)
            {
                Diagnostics.UploadsResumed.Add(1);
                Log.UploadResumed(_logger, key, record.Offset);
            }

            if (record!.FencingToken != FenceOf(held))
            {
                record = record with { FencingToken = FenceOf(held) };
            }

            var write = new ActiveWrite(_time.GetUtcNow());
            _activeWrites[key] = write;
            return new AppendSession(this, held, record!, request.HttpContext, write);
        }
        catch
        {
            await held.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Creates (or replaces) an upload without bytes (tus creation). An upload of declared length 0 is complete at
    /// once; an upload assembled from parts is completed as soon as all its parts are.
    /// </summary>
    public async ValueTask<UploadRecord> CreateAsync(CreateUploadRequest request, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        ThrowIfTooLarge(request.Length, options);

        var key = UploadKeys.Create(request.Partition, request.FileId);
        var held = await AcquireAsync(key, options.LockWaitTimeout, cancellationToken).ConfigureAwait(false);
        await using var heldScope = held.ConfigureAwait(false);
        var existing = await ClaimAsync(key, held, cancellationToken).ConfigureAwait(false);

        var record = await CreateCoreAsync(key, request, isRestart: IsVisible(existing, request.Partition, request.FileId), FenceOf(held), cancellationToken).ConfigureAwait(false);
        if (record.Length == 0)
        {
            // Nothing to wait for: create the (empty) data and complete.
            try
            {
                var writer = await _data.OpenWriterAsync(key, 0, 0, FenceOf(held), cancellationToken).ConfigureAwait(false);
                await using var writerScope = writer.ConfigureAwait(false);
                await writer.FlushAsync(options.Durability == UploadDurability.FSync, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
            {
                throw StoreFailure(key, ex);
            }

            record = await PublishAsync(record, 0, completed: true, request.HttpContext, CancellationToken.None).ConfigureAwait(false);
        }

        return record;
    }

    /// <summary>
    /// Returns the upload's last published state even when it has expired (so a front can answer 410), or
    /// <see langword="null"/> when there is none in this partition. Never takes the lock.
    /// </summary>
    public async ValueTask<(UploadRecord? Record, bool Expired)> LookupAsync(string partition, string fileId, CancellationToken cancellationToken)
    {
        var key = UploadKeys.Create(partition, fileId);
        var record = await ReadStateAsync(key, cancellationToken).ConfigureAwait(false);

        if (record is null || !string.Equals(record.Partition, partition, StringComparison.Ordinal) || !string.Equals(record.FileId, fileId, StringComparison.Ordinal))
        {
            return (null, false);
        }

        return (record, record.ExpiresAt <= _time.GetUtcNow());
    }

    /// <summary>Removes an upload's record and bytes (tus termination). Returns false when there was none.</summary>
    public async ValueTask<bool> DeleteAsync(string partition, string fileId, HttpContext? httpContext, CancellationToken cancellationToken)
    {
        var key = UploadKeys.Create(partition, fileId);
        var held = await AcquireAsync(key, _options.CurrentValue.LockWaitTimeout, cancellationToken).ConfigureAwait(false);
        await using var heldScope = held.ConfigureAwait(false);
        try
        {
            // Expired records are removed too (a tombstone left by a failed removal among them).
            var record = await ClaimCoreAsync(key, held, cancellationToken).ConfigureAwait(false);
            if (record is null || !string.Equals(record.Partition, partition, StringComparison.Ordinal) || !string.Equals(record.FileId, fileId, StringComparison.Ordinal))
            {
                return false;
            }

            await DeleteCoreAsync(record with { FencingToken = FenceOf(held) }, UploadDeletionReason.Deleted, httpContext, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(key, ex);
        }
    }

    /// <summary>
    /// Completes an upload assembled from parts once every part is complete (concatenating their bytes); returns
    /// the upload as it now is. Safe to call any number of times.
    /// </summary>
    public async ValueTask<UploadRecord> TryCompleteAssemblyAsync(UploadRecord assembled, HttpContext? httpContext, CancellationToken cancellationToken)
    {
        if (assembled.IsCompleted || assembled.Parts is null)
        {
            return assembled;
        }

        var parts = new List<UploadRecord>(assembled.Parts.Count);
        foreach (var partId in assembled.Parts)
        {
            var part = await FindAsync(assembled.Partition, partId, cancellationToken).ConfigureAwait(false);
            if (part is null || !part.IsCompleted)
            {
                return assembled;
            }

            parts.Add(part);
        }

        if (_data is not IUploadDataConcatenation concatenation)
        {
            throw new UploadException(UploadError.StorageUnavailable, "The data store cannot assemble uploads from parts.");
        }

        var held = await AcquireAsync(assembled.Key, _options.CurrentValue.LockWaitTimeout, cancellationToken).ConfigureAwait(false);
        await using var heldScope = held.ConfigureAwait(false);
        var current = await ClaimAsync(assembled.Key, held, cancellationToken).ConfigureAwait(false);
        if (!IsVisible(current, assembled.Partition, assembled.FileId))
        {
            current = null;
        }

        if (current is null || current.IsCompleted)
        {
            return current ?? assembled;
        }

        try
        {
            await concatenation.ConcatenateAsync(current.Key, parts.Select(p => p.Key).ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(current.Key, ex);
        }

        return await PublishAsync(current with { FencingToken = FenceOf(held) }, parts.Sum(p => p.Offset), completed: true, httpContext, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Hashes the stored bytes with the digest's algorithm (<c>name:Base64</c>) and compares.</summary>
    private async ValueTask<bool> MatchesDigestAsync(string key, string expected, CancellationToken cancellationToken)
    {
        var colon = expected.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !ChunkChecksum.TryGetAlgorithm(expected[..colon], out var algorithm))
        {
            return false;
        }

        Stream? stream;
        try
        {
            stream = await _data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(key, ex);
        }

        if (stream is null)
        {
            return false;
        }

        await using (stream.ConfigureAwait(false))
        {
            using var hash = IncrementalHash.CreateHash(algorithm);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }

            return hash.GetHashAndReset().AsSpan().SequenceEqual(Convert.FromBase64String(expected[(colon + 1)..]));
        }
    }

    private static void ThrowIfTooLarge(long? length, ResumableUploadOptions options)
    {
        if (length > options.MaxUploadSize)
        {
            throw new UploadException(UploadError.TooLarge, $"The declared length {length} exceeds the maximum upload size {options.MaxUploadSize}.");
        }
    }

    /// <summary>Reads a record; a store failure becomes a 503/507 refusal.</summary>
    private async ValueTask<UploadRecord?> ReadStateAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return await _state.GetAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(key, ex);
        }
    }

    private async ValueTask<IAsyncDisposable> AcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IAsyncDisposable? held;
        try
        {
            held = await _locks.TryAcquireAsync(key, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(key, ex);
        }

        if (held is null)
        {
            Diagnostics.Conflicts.Add(1);
            throw new UploadException(UploadError.Locked, "Another request is writing this upload. Retry when it has ended.");
        }

        return held;
    }

    /// <summary>
    /// Reads the upload's record for a request that just acquired its lock; under a lease, claims it first (see
    /// <see cref="IUploadStateStore.ClaimAsync"/>), so nothing a holder of an older lease does afterwards can count.
    /// The returned record carries the new token. A refused claim (a newer holder exists) or a store failure becomes a
    /// refusal (423 / 503).
    /// </summary>
    private async ValueTask<UploadRecord?> ClaimAsync(string key, IAsyncDisposable held, CancellationToken cancellationToken)
    {
        try
        {
            return await ClaimCoreAsync(key, held, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(key, ex);
        }
    }

    private async ValueTask<UploadRecord?> ClaimCoreAsync(string key, IAsyncDisposable held, CancellationToken cancellationToken)
    {
        var token = FenceOf(held);
        if (token <= 0)
        {
            return await _state.GetAsync(key, cancellationToken).ConfigureAwait(false);
        }

        var claimed = await _state.ClaimAsync(key, token, cancellationToken).ConfigureAwait(false);
        return claimed is null || claimed.FencingToken == token ? claimed : claimed with { FencingToken = token };
    }

    /// <summary>The fencing token to stamp on records saved under <paramref name="held"/> (0 when it is not a lease).</summary>
    private static long FenceOf(IAsyncDisposable held) => held is IUploadLease lease ? lease.FencingToken : 0;

    private async ValueTask<UploadRecord> CreateCoreAsync(string key, CreateUploadRequest request, bool isRestart, long fencingToken, CancellationToken cancellationToken)
    {
        if (_handlers.Length > 0)
        {
            var context = new UploadCreatingContext(request.HttpContext, request.Partition, request.FileId, request.Length, request.Metadata, isRestart, cancellationToken);
            foreach (var handler in _handlers)
            {
                await handler.OnCreatingAsync(context).ConfigureAwait(false);
                if (context.IsRejected)
                {
                    throw new UploadException(UploadError.Rejected, context.RejectionDetail ?? "The upload was refused.") { StatusCode = context.RejectionStatusCode };
                }
            }
        }

        var now = _time.GetUtcNow();
        var record = new UploadRecord
        {
            Key = key,
            Partition = request.Partition,
            FileId = request.FileId,
            Offset = 0,
            Length = request.Length,
            IsCompleted = false,
            CreatedAt = now,
            UpdatedAt = now,
            ExpiresAt = now + _options.CurrentValue.IncompleteUploadExpiration,
            Metadata = request.Metadata,
            IsPartial = request.IsPartial,
            Parts = request.Parts,
            PartReferences = request.PartReferences,
            RepresentationDigest = request.RepresentationDigest,
            FencingToken = fencingToken,
        };

        // Publish offset 0 before the data is truncated, so no reader is ever told about bytes that are gone.
        await SaveAsync(record, cancellationToken).ConfigureAwait(false);
        Diagnostics.UploadsStarted.Add(1);
        if (isRestart)
        {
            Log.UploadRestarted(_logger, key);
        }
        else
        {
            Log.UploadCreated(_logger, key, request.Length);
        }

        return record;
    }

    internal async ValueTask<UploadRecord> PublishAsync(UploadRecord record, long offset, bool completed, HttpContext? httpContext, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var now = _time.GetUtcNow();
        var updated = record with
        {
            Offset = offset,
            Length = completed ? offset : record.Length,
            IsCompleted = completed,
            UpdatedAt = now,
            ExpiresAt = now + (completed ? options.CompletedUploadRetention : options.IncompleteUploadExpiration),
        };

        if (completed && !record.IsCompleted)
        {
            try
            {
                await _data.CompleteAsync(record.Key, offset, record.FencingToken, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
            {
                throw StoreFailure(record.Key, ex);
            }
        }

        // After CompleteAsync: an object store has readable bytes only once they are assembled.
        if (completed && !record.IsCompleted && record.RepresentationDigest is { } expected && !await MatchesDigestAsync(record.Key, expected, cancellationToken).ConfigureAwait(false))
        {
            // RFC 9530 Repr-Digest: the whole upload does not match what the client declared at creation. It is kept
            // as an unfinished upload that can take no more bytes (so nothing processes it), and the client is told.
            await SaveAsync(updated with { Length = offset, IsCompleted = false, ExpiresAt = record.ExpiresAt }, cancellationToken).ConfigureAwait(false);
            Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", "RepresentationDigestMismatch"));
            throw new UploadException(UploadError.InvalidHeader, "The upload's bytes do not match the Repr-Digest sent when it was created; it will not be processed.")
            {
                Header = "Repr-Digest",
                CurrentOffset = offset,
            };
        }

        await SaveAsync(updated, cancellationToken).ConfigureAwait(false);

        if (completed && !record.IsCompleted)
        {
            Diagnostics.UploadsCompleted.Add(1);
            Log.UploadCompleted(_logger, record.Key, offset);
            foreach (var handler in _handlers)
            {
                await RunHandlerAsync(nameof(ResumableUploadEvents.OnCompletedAsync), record.Key, () => handler.OnCompletedAsync(new UploadCompletedContext(httpContext, updated, _data, cancellationToken))).ConfigureAwait(false);
            }
        }
        else if (_handlers.Length > 0 && offset != record.Offset)
        {
            foreach (var handler in _handlers)
            {
                await RunHandlerAsync(nameof(ResumableUploadEvents.OnProgressAsync), record.Key, () => handler.OnProgressAsync(new UploadProgressContext(httpContext, updated, cancellationToken))).ConfigureAwait(false);
            }
        }

        return updated;
    }

    /// <summary>Runs the authorizing handlers; throws when one rejects.</summary>
    public async ValueTask AuthorizeAsync(HttpContext httpContext, UploadOperation operation, string partition, string fileId)
    {
        if (_handlers.Length == 0)
        {
            return;
        }

        var context = new UploadAuthorizingContext(httpContext, operation, partition, fileId);
        foreach (var handler in _handlers)
        {
            await handler.OnAuthorizingAsync(context).ConfigureAwait(false);
            if (context.IsRejected)
            {
                throw new UploadException(UploadError.Rejected, context.RejectionDetail ?? "The request was refused.") { StatusCode = context.RejectionStatusCode };
            }
        }
    }

    /// <summary>Removes every expired upload whose lock is free. Returns how many were removed.</summary>
    public async ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var now = _time.GetUtcNow();
        var expired = new List<UploadRecord>();
        await foreach (var record in _state.GetExpiredAsync(now, cancellationToken).ConfigureAwait(false))
        {
            expired.Add(record);
        }

        foreach (var candidate in expired)
        {
            var held = await _locks.TryAcquireAsync(candidate.Key, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            if (held is null)
            {
                continue; // being written right now, so not expired after all
            }

            await using (held.ConfigureAwait(false))
            {
                UploadRecord? current;
                try
                {
                    current = await ClaimCoreAsync(candidate.Key, held, cancellationToken).ConfigureAwait(false);
                }
                catch (UploadLeaseLostException)
                {
                    continue; // a newer holder has it
                }

                if (current is null || current.ExpiresAt > _time.GetUtcNow())
                {
                    continue;
                }

                await DeleteCoreAsync(current with { FencingToken = FenceOf(held) }, UploadDeletionReason.Expired, httpContext: null, cancellationToken).ConfigureAwait(false);
                Diagnostics.UploadsExpired.Add(1);
                Log.UploadExpired(_logger, current.Key);
                removed++;
            }
        }

        return removed;
    }

    private async ValueTask DeleteCoreAsync(UploadRecord record, UploadDeletionReason reason, HttpContext? httpContext, CancellationToken cancellationToken)
    {
        // 1. A tombstone: no bytes and already expired, so nobody is told about bytes that are about to go, and if
        //    removing the bytes fails, the expiry sweep finds the record and tries again (nothing is orphaned).
        // 2. The bytes. 3. The record.
        var tombstone = record with { Offset = 0, IsCompleted = false, ExpiresAt = _time.GetUtcNow() };
        if (record.Offset != 0 || record.IsCompleted || record.ExpiresAt > tombstone.ExpiresAt)
        {
            await _state.SaveAsync(tombstone, cancellationToken).ConfigureAwait(false);
        }

        await _data.DeleteAsync(record.Key, cancellationToken).ConfigureAwait(false);
        await _state.DeleteAsync(record.Key, record.FencingToken, cancellationToken).ConfigureAwait(false);
        foreach (var handler in _handlers)
        {
            await RunHandlerAsync(nameof(ResumableUploadEvents.OnDeletedAsync), record.Key, () => handler.OnDeletedAsync(new UploadDeletedContext(httpContext, record, reason, cancellationToken))).ConfigureAwait(false);
        }
    }

    private async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await _state.SaveAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            throw StoreFailure(record.Key, ex);
        }
    }

    private async ValueTask RunHandlerAsync(string eventName, string key, Func<ValueTask> invoke)
    {
        try
        {
            await invoke().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The bytes are already safe; a failing handler must not turn a stored upload into an error.
            Log.EventHandlerFailed(_logger, eventName, key, ex);
        }
    }

    private bool IsVisible(UploadRecord? record, string partition, string fileId)
        => record is not null
           && record.ExpiresAt > _time.GetUtcNow()
           && string.Equals(record.Partition, partition, StringComparison.Ordinal)
           && string.Equals(record.FileId, fileId, StringComparison.Ordinal);

    internal static bool IsStoreFailure(Exception ex, CancellationToken cancellationToken)
        => ex is not UploadException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested);

    internal UploadException StoreFailure(string? key, Exception ex)
    {
        if (ex is UploadLeaseLostException)
        {
            Log.LeaseLost(_logger, key);
            // Another instance holds the upload now: the client is told to retry, as when the lock is busy.
            return new UploadException(UploadError.Locked, "This request lost the upload's lease to a newer one; the bytes published before are kept. Retry from the stored offset.", ex);
        }

        Log.StoreFailed(_logger, key, ex);
        if (IsDiskFull(ex))
        {
            return new UploadException(UploadError.InsufficientStorage, "The upload store is out of space. The bytes received so far are kept; retry later.", ex);
        }

        return new UploadException(UploadError.StorageUnavailable, "The upload store is unavailable. Retry later.", ex);
    }

    private static bool IsDiskFull(Exception ex)
    {
        for (var current = ex; current is not null; current = current.InnerException)
        {
            // ENOSPC (28), EDQUOT (122) on Unix; ERROR_DISK_FULL (112) / ERROR_HANDLE_DISK_FULL (39) on Windows.
            var code = current.HResult & 0xFFFF;
            if (current is IOException && code is 28 or 122 or 112 or 39)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>An append in progress: cancelled when a newer request takes over; completed when the append has ended.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "A source without timers holds nothing to release; disposing it would race with TakeOverAsync.")]
internal sealed class ActiveWrite
{
    private long _lastProgressTicks;

    public ActiveWrite(DateTimeOffset now) => Touch(now);

    public CancellationTokenSource Superseded { get; } = new();

    /// <summary>When the writer last received bytes (or started).</summary>
    public DateTimeOffset LastProgress => new(Interlocked.Read(ref _lastProgressTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastProgressTicks, now.UtcTicks);

    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private long _waitingSinceTicks;
    private int _idle;

    /// <summary>Since when the append has been waiting for body bytes, or null while it is not waiting (writing, publishing).</summary>
    public DateTimeOffset? WaitingSince
    {
        get
        {
            var ticks = Interlocked.Read(ref _waitingSinceTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>Whether the append was ended because its body went silent.</summary>
    public bool IsIdle => Volatile.Read(ref _idle) != 0;

    public void BeginRead(DateTimeOffset now) => Interlocked.Exchange(ref _waitingSinceTicks, now.UtcTicks);

    public void EndRead() => Interlocked.Exchange(ref _waitingSinceTicks, 0);

    /// <summary>Marks the append idle; true the first time only.</summary>
    public bool MarkIdle() => Interlocked.Exchange(ref _idle, 1) == 0;
}

/// <summary>What a protocol front asks of <see cref="UploadEngine.BeginAppendAsync"/>.</summary>
/// <param name="Partition">The owner scope.</param>
/// <param name="FileId">The client-chosen id.</param>
/// <param name="StartOffset">Where the client says its bytes start.</param>
/// <param name="Length">The declared total length, when the client sent one.</param>
/// <param name="ContentLength">The body length, when known before reading (checked before anything is changed).</param>
/// <param name="HttpContext">The request, handed to event handlers.</param>
internal sealed record AppendRequest(string Partition, string FileId, long StartOffset, long? Length, long? ContentLength, HttpContext? HttpContext)
{
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = UploadRecord.EmptyMetadata;

    /// <summary>
    /// Whether start offset 0 may create or restart the upload (the X-File-Id protocol). When false (tus), the
    /// upload must exist and the offset must match.
    /// </summary>
    public bool AllowRestart { get; init; } = true;
}

/// <summary>What a protocol front asks of <see cref="UploadEngine.CreateAsync(CreateUploadRequest, CancellationToken)"/>.</summary>
internal sealed record CreateUploadRequest(string Partition, string FileId, long? Length, HttpContext? HttpContext)
{
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = UploadRecord.EmptyMetadata;

    public bool IsPartial { get; init; }

    public IReadOnlyList<string>? Parts { get; init; }

    public IReadOnlyList<string>? PartReferences { get; init; }

    /// <summary>A digest of the whole upload the client declared (<c>name:Base64</c>), checked on completion.</summary>
    public string? RepresentationDigest { get; init; }
}
