using ResumableUpload.Middleware.Storage;
using Xunit;

namespace ResumableUpload.Testing;

/// <summary>
/// The contract of <see cref="IUploadLockProvider"/>: one holder per key, across every instance that shares the
/// backend; waiting up to the timeout; different keys never contend. Derive from this class and return a provider from
/// <see cref="CreateProviderAsync"/>; providers created in one test must share one backend (they model app instances).
/// </summary>
public abstract class UploadLockProviderConformanceTests : IAsyncLifetime
{
    private readonly List<IUploadLockProvider> _created = [];

    /// <summary>Creates a provider; several per test model several app instances.</summary>
    protected abstract ValueTask<IUploadLockProvider> CreateProviderAsync();

    /// <summary>How long a test waits for something the provider should do "soon" (a release seen by a waiter).</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var provider in _created)
        {
            switch (provider)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    /// <summary>A provider instance (remembered for disposal).</summary>
    protected async Task<IUploadLockProvider> ProviderAsync()
    {
        var provider = await CreateProviderAsync();
        _created.Add(provider);
        return provider;
    }

    /// <summary>A free lock is granted at once; a second holder (on another instance) is refused until it is released.</summary>
    [Fact]
    public async Task Acquire_HeldElsewhere_IsRefusedUntilReleased()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();

        var held = await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(held);
        Assert.Null(await b.TryAcquireAsync(key, TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.Null(await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));

        await held.DisposeAsync();
        var next = await b.TryAcquireAsync(key, Patience, CancellationToken.None);
        Assert.NotNull(next);
        await next.DisposeAsync();
    }

    /// <summary>A waiter is granted the lock when the holder releases it within the wait.</summary>
    [Fact]
    public async Task Acquire_Waiting_IsGrantedWhenTheHolderReleases()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();
        var held = await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(held);

        var waiting = b.TryAcquireAsync(key, Patience, CancellationToken.None).AsTask();
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        await held.DisposeAsync();

        var granted = await waiting;
        Assert.NotNull(granted);
        await granted.DisposeAsync();
    }

    /// <summary>Different uploads never contend.</summary>
    [Fact]
    public async Task Acquire_DifferentKeys_DoNotContend()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var first = await a.TryAcquireAsync(StoreConformance.NewKey(), TimeSpan.Zero, CancellationToken.None);
        var second = await b.TryAcquireAsync(StoreConformance.NewKey(), TimeSpan.Zero, CancellationToken.None);

        Assert.NotNull(first);
        Assert.NotNull(second);
        await first.DisposeAsync();
        await second.DisposeAsync();
    }

    /// <summary>Releasing twice is harmless and does not release a later holder's lock.</summary>
    [Fact]
    public async Task Release_Twice_DoesNotReleaseTheNextHolder()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();
        var first = await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(first);
        await first.DisposeAsync();

        var second = await b.TryAcquireAsync(key, Patience, CancellationToken.None);
        Assert.NotNull(second);
        await first.DisposeAsync();

        Assert.Null(await a.TryAcquireAsync(key, TimeSpan.FromMilliseconds(100), CancellationToken.None));
        await second.DisposeAsync();
    }

    /// <summary>A cancelled wait ends with an <see cref="OperationCanceledException"/> and leaves the lock usable.</summary>
    [Fact]
    public async Task Acquire_CancelledWhileWaiting_Throws_AndLeavesTheLockUsable()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();
        var held = await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(held);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await b.TryAcquireAsync(key, Patience, cancel.Token));

        await held.DisposeAsync();
        var next = await b.TryAcquireAsync(key, Patience, CancellationToken.None);
        Assert.NotNull(next);
        await next.DisposeAsync();
    }

    /// <summary>Under contention from several instances, at most one holder at a time, and every contender gets a turn.</summary>
    [Fact]
    public async Task Acquire_ContendedByManyInstances_HasOneHolderAtATime()
    {
        var providers = new[] { await ProviderAsync(), await ProviderAsync(), await ProviderAsync() };
        var key = StoreConformance.NewKey();
        var inside = 0;
        var maximum = 0;
        var turns = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 12), new ParallelOptions { MaxDegreeOfParallelism = 12 }, async (i, ct) =>
        {
            for (var round = 0; round < 3; round++)
            {
                var held = await providers[i % providers.Length].TryAcquireAsync(key, TimeSpan.FromSeconds(30), ct);
                Assert.NotNull(held);
                var now = Interlocked.Increment(ref inside);
                InterlockedMax(ref maximum, now);
                await Task.Delay(5, ct);
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref turns);
                await held.DisposeAsync();
            }
        });

        Assert.Equal(1, maximum);
        Assert.Equal(36, turns);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}

/// <summary>
/// The contract of a lock provider whose locks are leases (<see cref="IUploadLease"/>), as distributed providers grant
/// them: fencing tokens that only grow, a lease that a dead holder loses, and (with <see cref="IUploadLockHandover"/>)
/// a handover another instance can ask for.
/// </summary>
public abstract class UploadLeaseProviderConformanceTests : UploadLockProviderConformanceTests
{
    /// <summary>The lease duration the providers under test were configured with.</summary>
    protected abstract TimeSpan LeaseDuration { get; }

    /// <summary>
    /// Makes <paramref name="lease"/>'s holder behave as a killed process: it stops renewing the lease and never releases
    /// it. The lease must then pass to another instance once it runs out.
    /// </summary>
    protected abstract ValueTask CrashAsync(IUploadLease lease);

    /// <summary>Every grant of a key's lock carries a larger fencing token than the grant before it, whichever instance asks.</summary>
    [Fact]
    public async Task Acquire_Repeatedly_FencingTokensOnlyGrow()
    {
        var providers = new[] { await ProviderAsync(), await ProviderAsync() };
        var key = StoreConformance.NewKey();
        var last = long.MinValue;
        for (var i = 0; i < 6; i++)
        {
            var held = await providers[i % 2].TryAcquireAsync(key, Patience, CancellationToken.None);
            var lease = Assert.IsAssignableFrom<IUploadLease>(held);
            Assert.True(lease.FencingToken > last, $"grant {i} had token {lease.FencingToken} after {last}");
            Assert.False(lease.Revoked.IsCancellationRequested);
            last = lease.FencingToken;
            await lease.DisposeAsync();
        }
    }

    /// <summary>A lease held longer than its duration is renewed: nobody else gets the lock while its holder lives.</summary>
    [Fact]
    public async Task Lease_HeldLongerThanItsDuration_IsRenewed()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));

        Assert.Null(await b.TryAcquireAsync(key, LeaseDuration * 2.5, CancellationToken.None));
        Assert.False(lease.Revoked.IsCancellationRequested);
        await lease.DisposeAsync();
    }

    /// <summary>A holder that dies loses its lease once it runs out, and the next holder gets a larger token.</summary>
    [Fact]
    public async Task Lease_OfADeadHolder_PassesToAnotherInstance()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));
        await CrashAsync(lease);

        var next = Assert.IsAssignableFrom<IUploadLease>(await b.TryAcquireAsync(key, (LeaseDuration * 3) + Patience, CancellationToken.None));
        Assert.True(next.FencingToken > lease.FencingToken);
        await next.DisposeAsync();
    }

    /// <summary>Asked through another instance, the holder's lease is revoked (so it can publish and let go).</summary>
    [Fact]
    public async Task Handover_RequestedByAnotherInstance_RevokesTheHolder()
    {
        var a = await ProviderAsync();
        var b = await ProviderAsync();
        var handover = Assert.IsAssignableFrom<IUploadLockHandover>(b);
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await a.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));

        var revoked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lease.Revoked.Register(() => revoked.TrySetResult());
        await handover.RequestHandoverAsync(key, CancellationToken.None);
        await revoked.Task.WaitAsync(Patience);

        await lease.DisposeAsync();
        var next = await b.TryAcquireAsync(key, Patience, CancellationToken.None);
        Assert.NotNull(next);
        await next.DisposeAsync();
    }

    /// <summary>A handover request for a lock nobody holds does nothing to the next holder.</summary>
    [Fact]
    public async Task Handover_OfAFreeLock_DoesNotRevokeTheNextHolder()
    {
        var a = await ProviderAsync();
        var handover = Assert.IsAssignableFrom<IUploadLockHandover>(a);
        var key = StoreConformance.NewKey();
        await handover.RequestHandoverAsync(key, CancellationToken.None);

        var lease = Assert.IsAssignableFrom<IUploadLease>(await a.TryAcquireAsync(key, Patience, CancellationToken.None));
        await Task.Delay(LeaseDuration);
        Assert.False(lease.Revoked.IsCancellationRequested);
        await lease.DisposeAsync();
    }
}
