using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace ResumableUpload.Middleware.Http.Informational;

/// <summary>
/// The connection's transport, wrapped so informational responses can be written between Kestrel's own writes.
/// Input passes through untouched. Output forwards every call to the original writer under one lock, and keeps
/// track of the two states in which nothing may be inserted:
/// <list type="bullet">
/// <item>Kestrel holds a buffer (<c>GetMemory</c>/<c>GetSpan</c> without the <c>Advance</c> or flush that ends it):
/// it is in the middle of writing, and a PipeWriter has one writer at a time.</item>
/// <item>A flush is pending: PipeWriters take one flush at a time, so later flushes (ours or Kestrel's) are chained
/// after it rather than issued concurrently.</item>
/// </list>
/// Whether the response has started is checked under the same lock (see <see cref="IInformationalResponseFeature"/>),
/// so an informational response either goes out entirely before the final response's head or not at all.
/// </summary>
internal sealed class InformationalResponseTransport : IDuplexPipe, IInformationalResponseFeature
{
    private readonly ConnectionContext _connection;
    private readonly GuardedOutput _output;

    public InformationalResponseTransport(ConnectionContext connection, IDuplexPipe inner)
    {
        _connection = connection;
        Inner = inner;
        _output = new GuardedOutput(inner.Output);
    }

    public IDuplexPipe Inner { get; }

    public PipeReader Input => Inner.Input;

    public PipeWriter Output => _output;

    /// <summary>Stops all further informational responses (the connection middleware has finished).</summary>
    public void Disable() => _output.Disable();

    public ValueTask<bool> TrySendAsync(
        int statusCode,
        string reasonPhrase,
        IEnumerable<KeyValuePair<string, string>> headers,
        Func<bool>? canSend,
        CancellationToken cancellationToken)
    {
        var bytes = InformationalResponseFormat.TryFormat(statusCode, reasonPhrase, headers);
        if (bytes is null)
        {
            return new ValueTask<bool>(false);
        }

        return _output.TryWriteAndFlushAsync(bytes, () =>
            // A later connection middleware (TLS, typically) replaced the transport: Kestrel writes through that one,
            // and raw bytes written here would bypass it (plaintext inside a TLS stream).
            ReferenceEquals(_connection.Transport, this) && (canSend is null || canSend()), cancellationToken);
    }

    private sealed class GuardedOutput(PipeWriter inner) : PipeWriter
    {
        private readonly Lock _sync = new();
        private bool _bufferHeld;
        private bool _disabled;
        private int _cancelGeneration;
        private Task<FlushResult>? _pendingFlush;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes
        {
            get
            {
                lock (_sync)
                {
                    return inner.UnflushedBytes;
                }
            }
        }

        public void Disable()
        {
            lock (_sync)
            {
                _disabled = true;
            }
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            lock (_sync)
            {
                var memory = inner.GetMemory(sizeHint);
                _bufferHeld = true;
                return memory;
            }
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            lock (_sync)
            {
                var span = inner.GetSpan(sizeHint);
                _bufferHeld = true;
                return span;
            }
        }

        public override void Advance(int bytes)
        {
            lock (_sync)
            {
                _bufferHeld = false;
                inner.Advance(bytes);
            }
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            lock (_sync)
            {
                // A flush ends whatever buffer was taken (its memory is invalid afterwards).
                _bufferHeld = false;
                return FlushLocked(cancellationToken);
            }
        }

        public override void CancelPendingFlush()
        {
            lock (_sync)
            {
                _cancelGeneration++;
                inner.CancelPendingFlush();
            }
        }

        public override void Complete(Exception? exception = null)
        {
            lock (_sync)
            {
                _disabled = true;
                _bufferHeld = false;
            }

            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            lock (_sync)
            {
                _disabled = true;
                _bufferHeld = false;
            }

            return inner.CompleteAsync(exception);
        }

        public async ValueTask<bool> TryWriteAndFlushAsync(byte[] bytes, Func<bool> canSend, CancellationToken cancellationToken)
        {
            ValueTask<FlushResult> flush;
            lock (_sync)
            {
                if (_disabled || _bufferHeld || !canSend())
                {
                    return false;
                }

                // Kestrel holds no buffer, so the inner writer is between whole writes; whatever Kestrel wrote
                // before (a previous response, a 100 Continue) precedes these bytes, whatever it writes next follows.
                try
                {
                    inner.Write(bytes);
                }
                catch (InvalidOperationException)
                {
                    // The inner writer was completed underneath us.
                    _disabled = true;
                    return false;
                }

                flush = FlushLocked(cancellationToken);
            }

            var result = await flush.ConfigureAwait(false);
            return !result.IsCanceled;
        }

        /// <summary>Flushes the inner writer now, or after the pending flush when there is one. Caller holds the lock.</summary>
        private ValueTask<FlushResult> FlushLocked(CancellationToken cancellationToken)
        {
            if (_pendingFlush is { IsCompleted: false } previous)
            {
                var chained = FlushAfterAsync(previous, _cancelGeneration, cancellationToken);
                _pendingFlush = chained;
                return new ValueTask<FlushResult>(chained);
            }

            _pendingFlush = null;
            var flush = inner.FlushAsync(cancellationToken);
            if (flush.IsCompleted)
            {
                return flush;
            }

            var task = flush.AsTask();
            _pendingFlush = task;
            return new ValueTask<FlushResult>(task);
        }

        private async Task<FlushResult> FlushAfterAsync(Task<FlushResult> previous, int cancelGeneration, CancellationToken cancellationToken)
        {
            try
            {
                await previous.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The previous flush's failure is its caller's to observe; this flush runs regardless.
            catch
#pragma warning restore CA1031
            {
            }

            ValueTask<FlushResult> flush;
            lock (_sync)
            {
                if (cancelGeneration != _cancelGeneration)
                {
                    // CancelPendingFlush was called while this flush waited: it was meant for this one too.
                    return new FlushResult(isCanceled: true, isCompleted: false);
                }

                flush = inner.FlushAsync(cancellationToken);
            }

            return await flush.ConfigureAwait(false);
        }
    }
}
