using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis;

/// <summary>
/// One writer per upload across every instance that shares the Redis database. A lock is the key
/// <c>{prefix}lock:{key}</c> holding its holder's fencing token, set with <c>NX</c> and the lease duration as its
/// expiry; tokens come from one counter (<c>INCR</c>) that never falls behind the server's clock in microseconds, so
/// every grant carries a larger token than any before it, also after Redis lost or rolled back the counter. The holder renews the lease every third of its duration; a holder that dies loses the lock when the
/// lease runs out. Releases and renewals compare the token first, so they never touch a later holder's lock.
/// </summary>
internal sealed class RedisUploadLockProvider : IUploadLockProvider, IUploadLockHandover, IAsyncDisposable
{
    // KEYS[1] lock, KEYS[2] fencing counter, KEYS[3] handover flag; ARGV[1] lease (ms).
    // Returns the new token, or nil when the lock is held. The token is the larger of the counter plus one and the
    // server's clock in microseconds (TIME), and the counter is set to it: a counter that was lost (a restart without
    // persistence, a flush) or rolled back (a failover to a replica that lagged, a restored snapshot) still hands out
    // tokens above every earlier one, as long as the servers' clocks moved forward since (a token is at least the
    // clock reading of its grant, and grants come nowhere near one per microsecond). Lua numbers are doubles: exact up
    // to 2^53, about 285 years of microseconds since 1970.
    private const string AcquireScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          return false
        end
        local now = redis.call('TIME')
        local clock = now[1] .. string.format('%06d', tonumber(now[2]))
        local token = redis.call('INCR', KEYS[2])
        if tonumber(clock) > token then
          redis.call('SET', KEYS[2], clock)
          token = clock
        else
          token = string.format('%d', token)
        end
        redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
        redis.call('DEL', KEYS[3])
        return token
        """;

    // KEYS[1] lock, KEYS[2] handover flag; ARGV[1] token, ARGV[2] lease (ms).
    // Returns 0 when the lock is no longer ours, 1 when renewed, 2 when renewed and a handover was asked for.
    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        if redis.call('GET', KEYS[2]) == ARGV[1] then
          return 2
        end
        return 1
        """;

    // KEYS[1] lock, KEYS[2] handover flag; ARGV[1] token, ARGV[2] released channel, ARGV[3] upload key.
    // Returns 1 when our lock was deleted, 0 when it was not ours any more.
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[1])
        if redis.call('GET', KEYS[2]) == ARGV[1] then
          redis.call('DEL', KEYS[2])
        end
        redis.call('PUBLISH', ARGV[2], ARGV[3])
        return 1
        """;

    // KEYS[1] lock, KEYS[2] handover flag; ARGV[1] flag lifetime (ms), ARGV[2] handover channel, ARGV[3] upload key.
    // Flags the current holder's token (so a later holder is never affected) and tells every instance. Returns the
    // token asked to let go, or nil when the lock is free.
    private const string HandoverScript = """
        local token = redis.call('GET', KEYS[1])
        if not token then
          return false
        end
        redis.call('SET', KEYS[2], token, 'PX', ARGV[1])
        redis.call('PUBLISH', ARGV[2], ARGV[3] .. ':' .. token)
        return token
        """;

    private readonly RedisConnection _connection;
    private readonly RedisKeys _keys;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, RedisUploadLease> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _releaseSignals = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _subscribeGate = new(1, 1);
    private readonly Action<RedisChannel, RedisValue> _onHandover;
    private readonly Action<RedisChannel, RedisValue> _onReleased;
    private ISubscriber? _subscriber;
    private volatile bool _disposed;

    public RedisUploadLockProvider(RedisConnection connection, IOptions<RedisUploadStoreOptions> options, ILogger<RedisUploadLockProvider> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var value = options.Value;
        _connection = connection;
        _keys = new RedisKeys(value.KeyPrefix);
        _logger = logger;
        LeaseDuration = value.LeaseDuration;
        PollInterval = value.LockPollInterval;
        _onHandover = OnHandoverMessage;
        _onReleased = OnReleasedMessage;
    }

    internal TimeSpan LeaseDuration { get; }

    internal TimeSpan PollInterval { get; }

    internal ILogger Logger => _logger;

    /// <summary>For tests: the keys this instance keeps state for (held leases, release signals); must drop back to 0.</summary>
    internal int TrackedKeys => _held.Count + _releaseSignals.Count;

    private string LeaseMilliseconds => ((long)Math.Ceiling(LeaseDuration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        var database = await ReadyAsync(cancellationToken).ConfigureAwait(false);
        var deadline = timeout == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)(Math.Max(0, timeout.TotalSeconds) * Stopwatch.Frequency);

        while (true)
        {
            // Listen before trying, so a release between the try and the wait is not missed.
            var released = _releaseSignals.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                var sentAt = Stopwatch.GetTimestamp();

                // Not cancellable once sent: a lock granted to a request that gave up is released below, not leaked.
                var granted = await database.ScriptEvaluateAsync(
                    AcquireScript,
                    [_keys.Lock(key), _keys.FencingCounter, _keys.Handover(key)],
                    [LeaseMilliseconds]).ConfigureAwait(false);

                if (!granted.IsNull)
                {
                    var token = (string)granted!;
                    var lease = new RedisUploadLease(this, key, token, long.Parse(token, NumberStyles.None, CultureInfo.InvariantCulture));
                    _held[key] = lease;
                    lease.StartRenewal(sentAt);
                    if (cancellationToken.IsCancellationRequested)
                    {
                        await lease.DisposeAsync().ConfigureAwait(false);
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    return lease;
                }

                var now = Stopwatch.GetTimestamp();
                if (now >= deadline)
                {
                    return null;
                }

                var wait = PollInterval;
                if (deadline != long.MaxValue && Stopwatch.GetElapsedTime(now, deadline) < wait)
                {
                    wait = Stopwatch.GetElapsedTime(now, deadline);
                }

                try
                {
                    await released.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Not woken: the lock may have run out without a release (a dead holder). Try again.
                }
            }
            finally
            {
                ForgetSignal(key, released);
            }
        }
    }

    /// <summary>
    /// Drops a release signal nobody needs any more, so the dictionary does not keep one for every upload ever tried.
    /// Another waiter in this process that shares it falls back to polling until its next try.
    /// </summary>
    private void ForgetSignal(string key, TaskCompletionSource signal)
        => _releaseSignals.TryRemove(new KeyValuePair<string, TaskCompletionSource>(key, signal));

    public async ValueTask RequestHandoverAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var flagLifetime = ((long)Math.Ceiling(LeaseDuration.TotalMilliseconds * 2)).ToString(CultureInfo.InvariantCulture);
        await database.ScriptEvaluateAsync(
            HandoverScript,
            [_keys.Lock(key), _keys.Handover(key)],
            [flagLifetime, _keys.HandoverChannel.ToString(), key]).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Extends <paramref name="lease"/>: 0 when it is no longer ours, 1 when renewed, 2 when renewed and a handover was asked for.</summary>
    internal async Task<int> RenewAsync(RedisUploadLease lease)
    {
        var database = await _connection.GetDatabaseAsync(CancellationToken.None).ConfigureAwait(false);
        var result = await database.ScriptEvaluateAsync(
            RenewScript,
            [_keys.Lock(lease.Key), _keys.Handover(lease.Key)],
            [lease.TokenValue, LeaseMilliseconds]).ConfigureAwait(false);
        return (int)result;
    }

    /// <summary>Deletes <paramref name="lease"/>'s lock if it is still ours (never a later holder's), and wakes waiters.</summary>
    internal async ValueTask ReleaseAsync(RedisUploadLease lease)
    {
        Forget(lease);
        try
        {
            var database = await _connection.GetDatabaseAsync(CancellationToken.None).ConfigureAwait(false);
            await database.ScriptEvaluateAsync(
                ReleaseScript,
                [_keys.Lock(lease.Key), _keys.Handover(lease.Key)],
                [lease.TokenValue, _keys.ReleasedChannel.ToString(), lease.Key]).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // The lock frees itself when its lease runs out; failing the request that is ending would not help.
            Log.LeaseReleaseFailed(_logger, lease.Key, lease.FencingToken, ex);
        }
    }

    /// <summary>Stops routing handover requests to <paramref name="lease"/> (released, lost or abandoned).</summary>
    internal void Forget(RedisUploadLease lease) => _held.TryRemove(new KeyValuePair<string, RedisUploadLease>(lease.Key, lease));

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var lease in _held.Values)
        {
            await lease.DisposeAsync().ConfigureAwait(false);
        }

        var subscriber = _subscriber;
        if (subscriber is not null)
        {
            try
            {
                await subscriber.UnsubscribeAsync(_keys.HandoverChannel, _onHandover).ConfigureAwait(false);
                await subscriber.UnsubscribeAsync(_keys.ReleasedChannel, _onReleased).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                // The connection is going away as well.
            }
        }

        foreach (var signal in _releaseSignals.Values)
        {
            signal.TrySetResult();
        }
    }

    /// <summary>The database, once this instance listens for handover requests and releases.</summary>
    private async ValueTask<IDatabase> ReadyAsync(CancellationToken cancellationToken)
    {
        var multiplexer = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        if (Volatile.Read(ref _subscriber) is null)
        {
            await _subscribeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_subscriber is null)
                {
                    var subscriber = multiplexer.GetSubscriber();
                    await subscriber.SubscribeAsync(_keys.HandoverChannel, _onHandover).ConfigureAwait(false);
                    await subscriber.SubscribeAsync(_keys.ReleasedChannel, _onReleased).ConfigureAwait(false);
                    Volatile.Write(ref _subscriber, subscriber);
                }
            }
            finally
            {
                _subscribeGate.Release();
            }
        }

        return multiplexer.GetDatabase();
    }

    private void OnHandoverMessage(RedisChannel channel, RedisValue message)
    {
        var text = (string?)message;
        var separator = text?.LastIndexOf(':') ?? -1;
        if (separator <= 0)
        {
            return;
        }

        var key = text![..separator];
        var token = text[(separator + 1)..];
        if (_held.TryGetValue(key, out var lease) && string.Equals(lease.TokenValue, token, StringComparison.Ordinal))
        {
            Log.LeaseHandoverRequested(_logger, key, lease.FencingToken);
            lease.Revoke();
        }
    }

    private void OnReleasedMessage(RedisChannel channel, RedisValue message)
    {
        var key = (string?)message;
        if (key is not null && _releaseSignals.TryRemove(key, out var signal))
        {
            signal.TrySetResult();
        }
    }
}
