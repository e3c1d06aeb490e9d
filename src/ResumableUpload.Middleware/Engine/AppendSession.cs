using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware.Engine;

/// <summary>
/// One request's right to write one upload: holds the lock from <see cref="UploadEngine.BeginAppendAsync"/> until
/// disposed. Streams a body into the data store in the buffers the <see cref="PipeReader"/> already owns (no copy,
/// no whole-body buffering), flushing before each published offset.
/// </summary>
internal sealed class AppendSession : IAsyncDisposable
{
    private readonly UploadEngine _engine;
    private readonly IAsyncDisposable _lock;
    private readonly HttpContext? _httpContext;

    private readonly ActiveWrite _write;

    internal AppendSession(UploadEngine engine, IAsyncDisposable heldLock, UploadRecord record, HttpContext? httpContext, ActiveWrite write)
    {
        _write = write;
        _engine = engine;
        _lock = heldLock;
        Record = record;
        _httpContext = httpContext;
    }

    /// <summary>The upload as last published (updated by <see cref="AppendAsync"/>).</summary>
    public UploadRecord Record { get; private set; }

    /// <summary>The most bytes this request may still add: up to the declared length, else up to the maximum size.</summary>
    public long RemainingCapacity => Record.IsCompleted ? 0 : (Record.Length ?? _engine.Options.MaxUploadSize) - Record.Offset;

    /// <summary>
    /// Writes <paramref name="body"/> at the upload's offset. Whatever happens (the client goes away, the body is
    /// too long, a store fails), the bytes that reached the store are flushed and their offset published before
    /// the exception propagates.
    /// </summary>
    /// <param name="body">The request body.</param>
    /// <param name="completeWhenBodyEnds">Whether a body that ends normally completes an upload of unknown length.</param>
    /// <param name="cancellationToken">The request's abort token.</param>
    /// <param name="checksum">
    /// When the client sent a checksum for this body: nothing is published until the whole body has arrived and
    /// matched, so a body that fails the check (or does not arrive whole) leaves the offset unchanged.
    /// </param>
    public async ValueTask<UploadRecord> AppendAsync(PipeReader body, bool completeWhenBodyEnds, CancellationToken cancellationToken, ChunkChecksum? checksum = null)
    {
        var record = Record;
        if (record.IsCompleted)
        {
            await RefuseBytesForCompletedUploadAsync(body, cancellationToken).ConfigureAwait(false);
            return record;
        }

        var options = _engine.Options;
        var diagnostics = _engine.Diagnostics;
        var toDisk = options.Durability == UploadDurability.FSync;
        var limit = record.Length ?? options.MaxUploadSize;
        long publishInterval = checksum is null ? options.ProgressPublishInterval : long.MaxValue;

        IUploadDataWriter writer;
        try
        {
            writer = await _engine.DataStore.OpenWriterAsync(record.Key, record.Offset, record.Length, record.FencingToken, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, cancellationToken))
        {
            throw _engine.StoreFailure(record.Key, ex);
        }

        await using var writerScope = writer.ConfigureAwait(false);
        if (writer.Position > record.Offset)
        {
            // The data store sealed these bytes before (CompleteAsync returned) but their completion was never recorded
            // (the state store failed, or the lease was lost right after): record it now instead of starting over.
            record = await FinishSealedCompletionAsync(record, writer.Position).ConfigureAwait(false);
            await RefuseBytesForCompletedUploadAsync(body, cancellationToken).ConfigureAwait(false);
            return record;
        }

        if (writer.Position != record.Offset)
        {
            // The store holds fewer bytes than were published (an operating-system crash with Durability = Flush
            // lost some): lower the offset to what really is there, and tell the client where to resume.
            record = await _engine.PublishAsync(record, writer.Position, completed: false, _httpContext, CancellationToken.None).ConfigureAwait(false);
            Record = record;
            _engine.Diagnostics.Conflicts.Add(1);
            throw new UploadException(UploadError.OffsetMismatch, $"The store holds only {writer.Position} bytes of this upload; resume from there.")
            {
                CurrentOffset = writer.Position,
            };
        }

        var sequenceWriter = writer as IUploadDataSequenceWriter;
        diagnostics.ActiveWrites.Add(1);
        var revoked = (_lock as IUploadLease)?.Revoked ?? CancellationToken.None;
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _write.Superseded.Token, revoked);
        var superseded = _write.Superseded.Token;
        var bodyEnded = false;
        ExceptionDispatchInfo? failure = null;
        try
        {
            while (true)
            {
                _engine.BeginRead(_write);
                ReadResult result;
                try
                {
                    result = await body.ReadAsync(reading.Token).ConfigureAwait(false);
                }
                finally
                {
                    _write.EndRead();
                }

                var buffer = result.Buffer;
                var received = buffer.Length; // read before AdvanceTo: the buffer is not ours after it
                if (received > 0)
                {
                    _engine.Touch(_write);
                }

                var room = limit - writer.Position;
                var accepted = received <= room ? buffer : buffer.Slice(0, room);
                try
                {
                    if (sequenceWriter is not null)
                    {
                        // The whole read in one call (one vectored write for the filesystem store).
                        if (!accepted.IsEmpty)
                        {
                            await WriteAsync(sequenceWriter, accepted).ConfigureAwait(false);
                            if (checksum is not null)
                            {
                                foreach (var segment in accepted)
                                {
                                    checksum.Append(segment.Span);
                                }
                            }

                            diagnostics.BytesReceived.Add(accepted.Length);
                        }
                    }
                    else
                    {
                        foreach (var segment in accepted)
                        {
                            // Not cancellable: a write that started is finished, so its bytes can still be counted.
                            await WriteAsync(writer, segment).ConfigureAwait(false);
                            checksum?.Append(segment.Span);
                            diagnostics.BytesReceived.Add(segment.Length);
                        }
                    }
                }
                finally
                {
                    body.AdvanceTo(buffer.End);
                }

                if (received > room)
                {
                    throw new UploadException(UploadError.TooLarge, record.Length is null
                        ? $"The upload would exceed the maximum upload size of {options.MaxUploadSize} bytes; the bytes before it are kept."
                        : $"The body goes past the declared length of {limit} bytes; the bytes before it are kept.")
                    {
                        CurrentOffset = writer.Position,
                    };
                }

                if (writer.Position - record.Offset >= publishInterval)
                {
                    await FlushAsync(writer, toDisk).ConfigureAwait(false);
                    record = await _engine.PublishAsync(record, writer.Position, completed: writer.Position == record.Length, _httpContext, CancellationToken.None).ConfigureAwait(false);
                    Record = record;
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    bodyEnded = result.IsCompleted;
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            diagnostics.ActiveWrites.Add(-1);
        }

        // The one place that names why an append ended early. A request that was superseded (a newer request took the
        // upload over), whose lease was revoked, or whose body went silent must never be answered as a success: its
        // failure becomes Superseded, whatever exception surfaced first (the read's OperationCanceledException, a
        // store's refusal).
        var clientGone = cancellationToken.IsCancellationRequested;
        var endedEarly = superseded.IsCancellationRequested || revoked.IsCancellationRequested;
        if (!clientGone && (endedEarly || (!bodyEnded && failure is null)))
        {
            failure = ExceptionDispatchInfo.Capture(Superseded(record.Offset));
        }

        if (checksum is not null && writer.Position != record.Offset)
        {
            if (failure is not null || !bodyEnded)
            {
                // A body that did not arrive whole cannot be verified: none of it counts.
                (failure ?? ExceptionDispatchInfo.Capture(new OperationCanceledException(cancellationToken))).Throw();
            }

            if (!checksum.Matches())
            {
                _engine.Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", nameof(UploadError.ChecksumMismatch)));
                throw new UploadException(UploadError.ChecksumMismatch, $"The body does not match its {checksum.CheckedAlgorithm ?? "expected"} checksum; it was discarded.")
                {
                    CurrentOffset = record.Offset,
                };
            }
        }

        var completed = record.Length is long length
            ? writer.Position == length
            : bodyEnded && failure is null && completeWhenBodyEnds;

        if (writer.Position != record.Offset || completed != record.IsCompleted)
        {
            try
            {
                await FlushAsync(writer, toDisk).ConfigureAwait(false);
                record = await _engine.PublishAsync(record, writer.Position, completed, _httpContext, CancellationToken.None).ConfigureAwait(false);
                Record = record;
            }
            catch (Exception ex) when (failure is not null)
            {
                Log.PublishAfterFailureFailed(_engine.Logger, record.Key, ex);
            }
        }

        if (failure?.SourceException is UploadException { Error: UploadError.Superseded })
        {
            // With the offset that was published last, so the log and the client-facing answer agree.
            failure = ExceptionDispatchInfo.Capture(Superseded(record.Offset));
        }

        failure?.Throw();
        return record;
    }

    private UploadException Superseded(long offset) => new(
        UploadError.Superseded,
        _write.IsIdle
            ? "The request body sent nothing for too long; the request was ended and its bytes up to here are kept."
            : "A newer request for this upload (or the loss of its lease) ended this one; its bytes up to here are kept.")
    {
        CurrentOffset = offset,
    };

    /// <summary>Records the completion of bytes the data store already sealed (see <see cref="IUploadDataStore.OpenWriterAsync"/>).</summary>
    private async ValueTask<UploadRecord> FinishSealedCompletionAsync(UploadRecord record, long sealedLength)
    {
        if (record.Length is long declared && declared != sealedLength)
        {
            throw _engine.StoreFailure(record.Key, new InvalidOperationException($"The data store holds {sealedLength} sealed bytes of an upload declared {declared} bytes long."));
        }

        Log.SealedCompletionRecorded(_engine.Logger, record.Key, sealedLength);
        record = await _engine.PublishAsync(record, sealedLength, completed: true, _httpContext, CancellationToken.None).ConfigureAwait(false);
        Record = record;
        return record;
    }

    private async ValueTask WriteAsync(IUploadDataWriter writer, ReadOnlyMemory<byte> segment)
    {
        try
        {
            await writer.WriteAsync(segment, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, CancellationToken.None))
        {
            throw _engine.StoreFailure(Record.Key, ex);
        }
    }

    private async ValueTask WriteAsync(IUploadDataSequenceWriter writer, ReadOnlySequence<byte> data)
    {
        try
        {
            await writer.WriteAsync(data, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, CancellationToken.None))
        {
            throw _engine.StoreFailure(Record.Key, ex);
        }
    }

    private async ValueTask FlushAsync(IUploadDataWriter writer, bool toDisk)
    {
        try
        {
            await writer.FlushAsync(toDisk, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, CancellationToken.None))
        {
            throw _engine.StoreFailure(Record.Key, ex);
        }
    }

    private async ValueTask RefuseBytesForCompletedUploadAsync(PipeReader body, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
            var any = !result.Buffer.IsEmpty;
            body.AdvanceTo(result.Buffer.End);
            if (any)
            {
                throw new UploadException(UploadError.AlreadyCompleted, "This upload already has all of its bytes.") { CurrentOffset = Record.Offset };
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _engine.EndWrite(Record.Key, _write);
        await _lock.DisposeAsync().ConfigureAwait(false);
    }
}
