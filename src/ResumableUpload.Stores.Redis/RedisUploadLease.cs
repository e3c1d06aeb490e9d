using System.Diagnostics;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.Redis;

/// <summary>
/// A held Redis upload lock. A background loop renews it every third of the lease duration; <see cref="Revoked"/>
/// fires when a renewal finds the lock gone or taken, when no renewal got through before the lease would run out,
/// or when another instance asked for a handover. Disposing it stops the loop and releases the lock (if still ours).
/// </summary>
internal sealed class RedisUploadLease : IUploadLease
{
    private readonly RedisUploadLockProvider _owner;
    private readonly CancellationTokenSource _revoked = new();
    private readonly CancellationTokenSource _stopRenewal = new();
    private Task _renewal = Task.CompletedTask;
    private int _ended;

    public RedisUploadLease(RedisUploadLockProvider owner, string key, string tokenValue, long fencingToken)
    {
        _owner = owner;
        Key = key;
        TokenValue = tokenValue;
        FencingToken = fencingToken;
        Revoked = _revoked.Token;
    }

    /// <summary>The upload key this lease locks.</summary>
    public string Key { get; }

    /// <summary>The token as Redis stores it (compared as a string by the scripts).</summary>
    public string TokenValue { get; }

    public long FencingToken { get; }

    public CancellationToken Revoked { get; }

    /// <summary>Starts renewing; <paramref name="grantedAt"/> is when the request that took the lock was sent (a <see cref="Stopwatch"/> timestamp).</summary>
    internal void StartRenewal(long grantedAt) => _renewal = Task.Run(() => RenewLoopAsync(grantedAt));

    /// <summary>Tells the holder to stop writing.</summary>
    internal void Revoke()
    {
        try
        {
            _revoked.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        catch (AggregateException)
        {
            // A callback of the holder failed; that is the holder's business, the lease is revoked regardless.
        }
    }

    /// <summary>
    /// For tests: behaves as a killed process would. Renewal stops, nothing is released, nobody is told; the lock
    /// passes on when its lease runs out.
    /// </summary>
    internal async ValueTask AbandonAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        _owner.Forget(this);
        await StopRenewalAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        await StopRenewalAsync().ConfigureAwait(false);
        await _owner.ReleaseAsync(this).ConfigureAwait(false);
        _revoked.Dispose();
    }

    private async Task StopRenewalAsync()
    {
        await _stopRenewal.CancelAsync().ConfigureAwait(false);
        await _renewal.ConfigureAwait(false);
        _stopRenewal.Dispose();
    }

    private async Task RenewLoopAsync(long grantedAt)
    {
        var duration = _owner.LeaseDuration;
        var interval = duration / 3;

        // Stop trusting the lease a little before Redis would expire it (clock rates differ slightly, replies take time).
        var margin = duration / 10;
        var validUntil = grantedAt + ToTicks(duration);
        var stop = _stopRenewal.Token;

        try
        {
            while (true)
            {
                await Task.Delay(interval, stop).ConfigureAwait(false);
                while (true)
                {
                    var sentAt = Stopwatch.GetTimestamp();
                    var left = Stopwatch.GetElapsedTime(sentAt, validUntil) - margin;
                    if (left <= TimeSpan.Zero)
                    {
                        Lost("no renewal reached Redis before the lease ran out");
                        return;
                    }

                    int result;
                    try
                    {
                        result = await _owner.RenewAsync(this).WaitAsync(left, stop).ConfigureAwait(false);
                    }
                    catch (TimeoutException) when (!stop.IsCancellationRequested && Stopwatch.GetTimestamp() >= validUntil - ToTicks(margin))
                    {
                        Lost("no renewal reached Redis before the lease ran out");
                        return;
                    }
                    catch (Exception ex) when (!stop.IsCancellationRequested)
                    {
                        Log.LeaseRenewalFailed(_owner.Logger, Key, FencingToken, ex);
                        await Task.Delay(_owner.PollInterval, stop).ConfigureAwait(false);
                        continue;
                    }

                    if (result == 0)
                    {
                        Lost("the lock expired or belongs to a newer holder");
                        return;
                    }

                    validUntil = sentAt + ToTicks(duration);
                    if (result == 2)
                    {
                        // A handover was asked for: the holder publishes and releases; keep the lease alive meanwhile.
                        Revoke();
                    }

                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Released or abandoned.
        }
    }

    private void Lost(string reason)
    {
        Log.LeaseLost(_owner.Logger, Key, FencingToken, reason);
        _owner.Forget(this);
        Revoke();
    }

    private static long ToTicks(TimeSpan value) => (long)(value.TotalSeconds * Stopwatch.Frequency);
}
