namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// One writer per upload within this process: a semaphore per key, created on demand and dropped when nobody
/// holds or waits for it. Different uploads never contend. Not enough when several instances share the stores.
/// </summary>
internal sealed class InProcessUploadLockProvider : IUploadLockProvider
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry();
                _entries.Add(key, entry);
            }

            entry.References++;
        }

        var acquired = false;
        try
        {
            acquired = await entry.Semaphore.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!acquired)
            {
                Release(key, entry, held: false);
            }
        }

        return acquired ? new Handle(this, key, entry) : null;
    }

    /// <summary>The number of keys with a holder or a waiter (for tests: it must drop back to 0).</summary>
    internal int ActiveKeys
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    private void Release(string key, Entry entry, bool held)
    {
        if (held)
        {
            entry.Semaphore.Release();
        }

        lock (_entries)
        {
            if (--entry.References == 0)
            {
                _entries.Remove(key);
                entry.Dispose();
            }
        }
    }

    private sealed class Entry : IDisposable
    {
        public readonly SemaphoreSlim Semaphore = new(1, 1);
        public int References;

        public void Dispose() => Semaphore.Dispose();
    }

    private sealed class Handle(InProcessUploadLockProvider owner, string key, Entry entry) : IAsyncDisposable
    {
        private int _released;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(key, entry, held: true);
            }

            return ValueTask.CompletedTask;
        }
    }
}
