using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// A held row lease. Renews itself every third of the lease duration; <see cref="Revoked"/> fires when the row is
/// gone (another instance took it over), when a handover was asked for, or when renewals could not reach the database
/// before the lease would run out. Disposing it stops renewing and deletes the row (only if it is still ours).
/// </summary>
internal sealed class PostgreSqlLease : IUploadLease
{
    private readonly PostgreSqlUploadLockProvider _provider;
    private readonly CancellationTokenSource _revoked = new();
    private readonly CancellationTokenSource _stopRenewing = new();
    private long _validUntil; // TimeProvider timestamp after which the database may consider the lease expired
    private Task _renewing = Task.CompletedTask;
    private int _ended;

    public PostgreSqlLease(PostgreSqlUploadLockProvider provider, string key, long fencingToken, long requestedAt)
    {
        _provider = provider;
        Key = key;
        FencingToken = fencingToken;
        _validUntil = requestedAt + ToTimestampTicks(provider.LeaseDuration);
    }

    public string Key { get; }

    public long FencingToken { get; }

    public CancellationToken Revoked => _revoked.Token;

    internal void StartRenewing() => _renewing = Task.Run(RenewAsync);

    internal void Revoke(string reason)
    {
        if (Volatile.Read(ref _ended) != 0 || _revoked.IsCancellationRequested)
        {
            return;
        }

        Log.LeaseRevoked(_provider.Logger, Key, FencingToken, reason);
        try
        {
            _revoked.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Stops renewing without releasing, as a killed process would (tests; provider disposal).</summary>
    internal void Abandon()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _stopRenewing.Cancel();
        _provider.Forget(this);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        await _stopRenewing.CancelAsync().ConfigureAwait(false);
        await _renewing.ConfigureAwait(false);
        await _provider.ReleaseAsync(this).ConfigureAwait(false);
        _stopRenewing.Dispose();
    }

    private async Task RenewAsync()
    {
        var time = _provider.Time;
        var interval = _provider.LeaseDuration / 3;
        var delay = interval;
        var stop = _stopRenewing.Token;
        while (true)
        {
            try
            {
                await Task.Delay(delay, time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var sent = time.GetTimestamp();
            var left = Interlocked.Read(ref _validUntil) - sent;
            if (left <= 0)
            {
                Revoke("renewals could not reach the database before the lease ran out");
                return;
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
                attempt.CancelAfter(TimeSpan.FromTicks(Math.Max(1, left * TimeSpan.TicksPerSecond / time.TimestampFrequency)));
                var renewed = await _provider.RenewAsync(Key, FencingToken, attempt.Token).ConfigureAwait(false);
                if (renewed is null)
                {
                    Revoke("the lease ran out and was taken over");
                    return;
                }

                Interlocked.Exchange(ref _validUntil, sent + ToTimestampTicks(_provider.LeaseDuration));
                if (renewed.Value)
                {
                    Revoke("another instance asked for a handover");
                }

                delay = interval;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                // The database could not be reached in time (or answered with an error): retry while the lease lasts.
                Log.LeaseRenewalFailed(_provider.Logger, Key, FencingToken, ex);
                var remaining = Interlocked.Read(ref _validUntil) - time.GetTimestamp();
                if (remaining < ToTimestampTicks(interval) / 2)
                {
                    // Too late to be sure the row is still ours when the next attempt would land: stop writing now.
                    Revoke("renewals could not reach the database before the lease would run out");
                    return;
                }

                delay = interval / 4;
            }
        }
    }

    private long ToTimestampTicks(TimeSpan span) => (long)(span.TotalSeconds * _provider.Time.TimestampFrequency);
}
