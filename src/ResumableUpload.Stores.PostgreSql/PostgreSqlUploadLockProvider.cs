using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Upload locks as rows of a leases table: a row per held lock with a fencing token (from a sequence, so it only
/// grows) and an expiry computed with the <em>database's</em> clock, so app instances whose clocks differ agree. The
/// holder renews its row every third of the lease duration; a dead holder's row runs out and the next instance takes it
/// over with a larger token. Handover requests and releases are announced with NOTIFY, so holders and waiters hear of
/// them at once (renewals and polling remain the fallback).
/// </summary>
internal sealed class PostgreSqlUploadLockProvider : IUploadLockProvider, IUploadLockHandover, IAsyncDisposable
{
    private readonly PostgreSqlStoreContext _context;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _acquire;
    private readonly string _renew;
    private readonly string _release;
    private readonly string _handover;
    private readonly ConcurrentDictionary<(string Key, long Token), PostgreSqlLease> _held = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _releaseSignals = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _listenerLock = new();
    private Task? _listener;
    private int _disposed;

    public PostgreSqlUploadLockProvider(PostgreSqlStoreContext context, TimeProvider time, ILogger<PostgreSqlUploadLockProvider> logger)
    {
        _context = context;
        _time = time;
        _logger = logger;
        var leases = context.Leases;
        _acquire =
            $"""
            INSERT INTO {leases} AS l (key, token, expires_at)
            VALUES ($1, nextval('{context.FencingSequence}'), clock_timestamp() + $2)
            ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at, handover_token = NULL
            WHERE l.expires_at <= clock_timestamp()
            RETURNING token
            """;
        _renew = $"UPDATE {leases} SET expires_at = clock_timestamp() + $3 WHERE key = $1 AND token = $2 RETURNING handover_token";
        _release = $"WITH d AS (DELETE FROM {leases} WHERE key = $1 AND token = $2 RETURNING key) SELECT pg_notify($3, $4) FROM d";
        _handover =
            $"""
            WITH h AS (UPDATE {leases} SET handover_token = token WHERE key = $1 AND expires_at > clock_timestamp() RETURNING token)
            SELECT pg_notify($2, $3 || token::text) FROM h
            """;
    }

    internal TimeSpan LeaseDuration => _context.Options.LeaseDuration;

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        EnsureListening();
        var started = _time.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(10);
        var maximumBackoff = _context.Options.LockPollInterval;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var released = _releaseSignals.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var attempted = _time.GetTimestamp();
            var token = await TryInsertAsync(key).ConfigureAwait(false);
            if (token is long granted)
            {
                var lease = new PostgreSqlLease(this, key, granted, attempted);
                _held[(key, granted)] = lease;
                lease.StartRenewing();
                return lease;
            }

            var remaining = timeout - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                _releaseSignals.TryRemove(new KeyValuePair<string, TaskCompletionSource>(key, released));
                return null;
            }

            var pause = TimeSpan.FromTicks(Math.Min(remaining.Ticks, backoff.Ticks + Random.Shared.NextInt64(backoff.Ticks / 2 + 1)));
            try
            {
                await released.Task.WaitAsync(pause, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // poll again
            }
            catch (OperationCanceledException)
            {
                _releaseSignals.TryRemove(new KeyValuePair<string, TaskCompletionSource>(key, released));
                throw;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, maximumBackoff.Ticks));
        }
    }

    public async ValueTask RequestHandoverAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var command = _context.DataSource.CreateCommand(_handover);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(key));
        command.Parameters.Add(Text(_context.NotificationChannel));
        command.Parameters.Add(Text(Payload('h', key) + "|"));
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
        }
    }

    /// <summary>Extends the lease; <see langword="null"/> when it is gone (taken over), else whether a handover was asked for.</summary>
    internal async ValueTask<bool?> RenewAsync(string key, long token, CancellationToken cancellationToken)
    {
        var command = _context.DataSource.CreateCommand(_renew);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(key));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = LeaseDuration, NpgsqlDbType = NpgsqlDbType.Interval });
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return !reader.IsDBNull(0) && reader.GetInt64(0) == token;
    }

    internal async ValueTask ReleaseAsync(PostgreSqlLease lease)
    {
        _held.TryRemove(new KeyValuePair<(string, long), PostgreSqlLease>((lease.Key, lease.FencingToken), lease));
        try
        {
            var command = _context.DataSource.CreateCommand(_release);
            await using var commandScope = command.ConfigureAwait(false);
            command.Parameters.Add(Text(lease.Key));
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lease.FencingToken, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(Text(_context.NotificationChannel));
            command.Parameters.Add(Text(Payload('r', lease.Key)));
            var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
            }
        }
        catch (Exception ex)
        {
            // Releasing is a courtesy: a row left behind runs out by itself, so disposing a lease never fails.
            Log.LeaseReleaseFailed(_logger, lease.Key, lease.FencingToken, ex);
            return;
        }

        SignalReleased(lease.Key);
    }

    internal void Forget(PostgreSqlLease lease)
        => _held.TryRemove(new KeyValuePair<(string, long), PostgreSqlLease>((lease.Key, lease.FencingToken), lease));

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? listener;
        lock (_listenerLock)
        {
            listener = _listener;
        }

        if (listener is not null)
        {
            await listener.ConfigureAwait(false);
        }

        foreach (var lease in _held.Values)
        {
            lease.Abandon();
        }

        _stopping.Dispose();
    }

    private async ValueTask<long?> TryInsertAsync(string key)
    {
        // Not cancellable: a grant that committed while the caller gave up would lock the upload for a whole lease.
        var command = _context.DataSource.CreateCommand(_acquire);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(key));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = LeaseDuration, NpgsqlDbType = NpgsqlDbType.Interval });
        var result = await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
        return result is long token ? token : null;
    }

    private void EnsureListening()
    {
        if (Volatile.Read(ref _listener) is not null)
        {
            return;
        }

        lock (_listenerLock)
        {
            _listener ??= Task.Run(() => ListenAsync(_stopping.Token));
        }
    }

    private async Task ListenAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var connection = await _context.DataSource.OpenConnectionAsync(stopping).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    connection.Notification += OnNotification;
                    var listen = new NpgsqlCommand("LISTEN " + PostgreSqlStoreContext.Quote(_context.NotificationChannel), connection);
                    await using (listen.ConfigureAwait(false))
                    {
                        await listen.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
                    }

                    delay = TimeSpan.FromMilliseconds(100);
                    while (true)
                    {
                        await connection.WaitAsync(stopping).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // Whatever went wrong, keep trying: holders still learn of handovers at their next renewal meanwhile.
                Log.ListenerFailed(_logger, _context.NotificationChannel, delay, ex);
                try
                {
                    await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        // Payload: "{schema}|r|{key}" (released) or "{schema}|h|{key}|{token}" (handover requested).
        var parts = e.Payload.Split('|');
        if (parts.Length < 3 || !string.Equals(parts[0], _context.Options.Schema, StringComparison.Ordinal))
        {
            return;
        }

        if (parts[1] == "r")
        {
            SignalReleased(parts[2]);
        }
        else if (parts[1] == "h" && parts.Length == 4
                 && long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var token)
                 && _held.TryGetValue((parts[2], token), out var lease))
        {
            lease.Revoke("another instance asked for a handover");
        }
    }

    private void SignalReleased(string key)
    {
        if (_releaseSignals.TryRemove(key, out var signal))
        {
            signal.TrySetResult();
        }
    }

    private string Payload(char kind, string key) => string.Create(CultureInfo.InvariantCulture, $"{_context.Options.Schema}|{kind}|{key}");

    private static NpgsqlParameter<string> Text(string value) => new() { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };
}
