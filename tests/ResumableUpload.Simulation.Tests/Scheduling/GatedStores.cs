using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Simulation.Tests.Scheduling;

/// <summary>
/// Decorators on the public store interfaces. Each host wraps its real stores in them, so the schedule can freeze,
/// fail or let through any store call of any host. They add no behaviour of their own.
/// </summary>
internal static class GatedStores
{
    /// <summary>Replaces the last registration of <typeparamref name="TService"/> with <paramref name="wrap"/> around it.</summary>
    public static void Decorate<TService>(IServiceCollection services, Func<TService, TService> wrap)
        where TService : class
    {
        var inner = services.Last(d => d.ServiceType == typeof(TService));
        services.Remove(inner);
        services.AddSingleton(sp => wrap(Create<TService>(sp, inner)));
    }

    private static TService Create<TService>(IServiceProvider sp, ServiceDescriptor descriptor)
        where TService : class
        => (TService)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!));

    public static async ValueTask<T> Around<T>(StoreGate gate, int host, StoreCall call, string? key, Func<ValueTask<T>> run)
    {
        await gate.PassAsync(host, call, CallPhase.Before, key);
        var result = await run();
        await gate.PassAsync(host, call, CallPhase.After, key);
        return result;
    }

    public static async ValueTask Around(StoreGate gate, int host, StoreCall call, string? key, Func<ValueTask> run)
    {
        await gate.PassAsync(host, call, CallPhase.Before, key);
        await run();
        await gate.PassAsync(host, call, CallPhase.After, key);
    }
}

internal sealed class GatedStateStore(IUploadStateStore inner, StoreGate gate, int host) : IUploadStateStore
{
    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.StateGet, key, () => inner.GetAsync(key, cancellationToken));

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.StateClaim, key, () => inner.ClaimAsync(key, fencingToken, cancellationToken));

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.StateSave, record.Key, () => inner.SaveAsync(record, cancellationToken));

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.StateDelete, key, () => inner.DeleteAsync(key, fencingToken, cancellationToken));

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var record in inner.GetExpiredAsync(now, cancellationToken))
        {
            yield return record;
        }
    }
}

internal sealed class GatedDataStore(IUploadDataStore inner, StoreGate gate, int host) : IUploadDataStore
{
    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        var writer = await GatedStores.Around(gate, host, StoreCall.DataOpenWriter, key, () => inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken));
        return new GatedWriter(writer, gate, host, key);
    }

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.DataOpenRead, key, () => inner.OpenReadAsync(key, cancellationToken));

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.DataComplete, key, () => inner.CompleteAsync(key, length, fencingToken, cancellationToken));

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
        => GatedStores.Around(gate, host, StoreCall.DataDelete, key, () => inner.DeleteAsync(key, cancellationToken));

    private sealed class GatedWriter(IUploadDataWriter inner, StoreGate gate, int host, string key) : IUploadDataWriter
    {
        public long Position => inner.Position;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
            => GatedStores.Around(gate, host, StoreCall.WriterWrite, key, () => inner.WriteAsync(data, cancellationToken));

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken)
            => GatedStores.Around(gate, host, StoreCall.WriterFlush, key, () => inner.FlushAsync(toDisk, cancellationToken));

        public async ValueTask DisposeAsync()
        {
            await gate.PassAsync(host, StoreCall.WriterDispose, CallPhase.Before, key);
            await inner.DisposeAsync();
        }
    }
}

/// <summary>
/// The lock provider decorator. Besides gating acquisition and release, it can <see cref="ExpireHeldLeases">expire</see>
/// the leases its host holds: it releases the real lease underneath (so the lock server is left exactly as by a lease
/// that ran out: the lock is free and the next grant gets a higher fencing token) while the holder keeps its old token
/// and is not told, as a holder frozen in a pause would not be. Its <see cref="IUploadLease.Revoked"/> fires only when the
/// schedule wakes it and says so.
/// </summary>
internal class GatedLockProvider(IUploadLockProvider inner, StoreGate gate, int host) : IUploadLockProvider
{
    private readonly object _sync = new();
    private readonly HashSet<GatedLease> _held = [];

    public bool GrantsLeases { get; private set; }

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var held = await GatedStores.Around(gate, host, StoreCall.LockAcquire, key, () => inner.TryAcquireAsync(key, timeout, cancellationToken));
        switch (held)
        {
            case null:
                return null;
            case IUploadLease lease:
                GrantsLeases = true;
                var gated = new GatedLease(this, lease, key);
                lock (_sync)
                {
                    _held.Add(gated);
                }

                return gated;
            default:
                return new GatedLock(this, held, key);
        }
    }

    /// <summary>Lets every lease this host holds run out underneath its holder; returns how many.</summary>
    public async Task<int> ExpireHeldLeasesAsync()
    {
        GatedLease[] held;
        lock (_sync)
        {
            held = [.. _held];
        }

        foreach (var lease in held)
        {
            await lease.ExpireAsync();
        }

        return held.Length;
    }

    /// <summary>Fires <see cref="IUploadLease.Revoked"/> of the leases expired earlier (their holder noticed on waking).</summary>
    public void RevokeExpired()
    {
        GatedLease[] held;
        lock (_sync)
        {
            held = [.. _held];
        }

        foreach (var lease in held.Where(l => l.Expired))
        {
            lease.Revoke();
        }
    }

    private void Forget(GatedLease lease)
    {
        lock (_sync)
        {
            _held.Remove(lease);
        }
    }

    private sealed class GatedLock(GatedLockProvider owner, IAsyncDisposable inner, string key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // A failed release still releases: an in-process lock cannot be left behind by a store outage, and a lease
            // left behind would only add a wait of the lease duration.
            try
            {
                await owner.Release(key);
            }
            finally
            {
                await inner.DisposeAsync();
            }
        }
    }

    private ValueTask Release(string key) => gate.PassAsync(host, StoreCall.LockRelease, CallPhase.Before, key);

    private sealed class GatedLease : IUploadLease
    {
        private readonly GatedLockProvider _owner;
        private readonly IUploadLease _inner;
        private readonly string _key;
        private readonly CancellationTokenSource _revoked = new();
        private readonly CancellationTokenRegistration _forward;
        private int _released;

        public GatedLease(GatedLockProvider owner, IUploadLease inner, string key)
        {
            _owner = owner;
            _inner = inner;
            _key = key;
            _forward = inner.Revoked.Register(() =>
            {
                if (!Expired)
                {
                    Revoke();
                }
            });
        }

        public bool Expired { get; private set; }

        public long FencingToken => _inner.FencingToken;

        public CancellationToken Revoked => _revoked.Token;

        public void Revoke()
        {
            try
            {
                _revoked.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public async Task ExpireAsync()
        {
            Expired = true;
            await _forward.DisposeAsync();
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                await _inner.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _owner.Forget(this);
            try
            {
                await _owner.Release(_key);
            }
            finally
            {
                await _forward.DisposeAsync();
                if (Interlocked.Exchange(ref _released, 1) == 0)
                {
                    await _inner.DisposeAsync();
                }

                _revoked.Dispose();
            }
        }
    }
}

/// <summary>The same decorator for providers that can ask a holder on another instance to hand over (Redis, PostgreSQL).</summary>
internal sealed class GatedHandoverLockProvider(IUploadLockProvider inner, StoreGate gate, int host)
    : GatedLockProvider(inner, gate, host), IUploadLockHandover
{
    private readonly IUploadLockHandover _handover = (IUploadLockHandover)inner;

    public ValueTask RequestHandoverAsync(string key, CancellationToken cancellationToken)
        => _handover.RequestHandoverAsync(key, cancellationToken);
}
