using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis;

/// <summary>
/// The one Redis connection the state store, the lock provider and the health check share: created on first use
/// (so a host starts while Redis is down, and answers 503 until it is back), and disposed with the container when
/// this package created it. A connection supplied by the host is used as it is and left to the host to dispose.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly string? _configuration;
    private readonly Func<IConnectionMultiplexer>? _supplied;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnectionMultiplexer? _multiplexer;
    private bool _owned;
    private volatile bool _disposed;

    /// <summary>A connection this object creates from a StackExchange.Redis configuration string, and owns.</summary>
    public RedisConnection(string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        _configuration = configuration;
    }

    /// <summary>A connection the host supplies (created on first use by <paramref name="supplied"/>) and owns.</summary>
    public RedisConnection(Func<IConnectionMultiplexer> supplied)
    {
        ArgumentNullException.ThrowIfNull(supplied);
        _supplied = supplied;
    }

    /// <summary>The multiplexer, connecting first if needed. A failed connection attempt throws and is tried again by the next call.</summary>
    public async ValueTask<IConnectionMultiplexer> GetAsync(CancellationToken cancellationToken)
    {
        var multiplexer = Volatile.Read(ref _multiplexer);
        if (multiplexer is not null)
        {
            return multiplexer;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_multiplexer is null)
            {
                if (_supplied is not null)
                {
                    Volatile.Write(ref _multiplexer, _supplied() ?? throw new InvalidOperationException("The connection factory given to AddRedisStores returned null."));
                }
                else
                {
                    // One connection for the app's lifetime: when Redis is down it reconnects in the background and
                    // calls fail after their timeout meanwhile, instead of every request waiting for a connect of its own.
                    var options = ConfigurationOptions.Parse(_configuration!);
                    options.AbortOnConnectFail = false;

                    // Not cancellable on purpose: an abandoned attempt would leave a connection nobody disposes. The
                    // attempt is bounded by the connection string's connectTimeout.
                    var created = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
                    _owned = true;
                    Volatile.Write(ref _multiplexer, created);
                }
            }

            return _multiplexer;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The database the stores use (the connection string's <c>defaultDatabase</c>).</summary>
    public async ValueTask<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken)
        => (await GetAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_owned && _multiplexer is not null)
            {
                await _multiplexer.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>The host's own connection, registered by the <c>AddRedis*</c> overloads that take a factory.</summary>
internal sealed class RedisSuppliedConnection(Func<IServiceProvider, IConnectionMultiplexer> factory)
{
    public Func<IServiceProvider, IConnectionMultiplexer> Factory { get; } = factory;
}
