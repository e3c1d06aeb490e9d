using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.Redis.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis.Tests.Storage;

[Collection(RedisServerGroup.Name)]
public sealed class RedisUploadLockProviderTests(RedisFixture redis) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly RedisTestStores _stores = new(redis.Server, leaseDuration: Lease);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _stores.DisposeAsync();

    [Fact]
    public async Task StaleHolder_ThatLostItsLeaseWhilePaused_CannotSaveOverTheNewerHolder()
    {
        var lockA = _stores.LockProvider();
        var stateA = _stores.StateStore();
        var lockB = _stores.LockProvider();
        var stateB = _stores.StateStore();
        var key = StoreConformance.NewKey();

        var leaseA = await AcquireAsync(lockA, key, TimeSpan.Zero);
        var record = StoreConformance.NewRecord(key) with { FencingToken = leaseA.FencingToken, Offset = 100 };
        await stateA.SaveAsync(record, CancellationToken.None);

        // A is paused (a long GC pause, a frozen VM): it renews nothing, and its lease runs out.
        await ((RedisUploadLease)leaseA).AbandonAsync();
        var leaseB = await AcquireAsync(lockB, key, (Lease * 3) + Patience);
        leaseB.FencingToken.Should().BeGreaterThan(leaseA.FencingToken);
        await stateB.SaveAsync(record with { FencingToken = leaseB.FencingToken, Offset = 200 }, CancellationToken.None);

        // A wakes up and publishes what it wrote meanwhile: refused, and B's record stays.
        var stale = async () => await stateA.SaveAsync(record with { Offset = 300 }, CancellationToken.None);
        await stale.Should().ThrowAsync<UploadLeaseLostException>();
        var stored = await stateA.GetAsync(key, CancellationToken.None);
        stored!.Offset.Should().Be(200);
        stored.FencingToken.Should().Be(leaseB.FencingToken);

        // A letting go late does not free B's lock.
        await leaseA.DisposeAsync();
        (await lockA.TryAcquireAsync(key, TimeSpan.FromMilliseconds(200), CancellationToken.None)).Should().BeNull();
        leaseB.Revoked.IsCancellationRequested.Should().BeFalse();
        await leaseB.DisposeAsync();
    }

    [Fact]
    public async Task Lease_WhoseLockWasTakenOver_IsRevokedByTheNextRenewal()
    {
        var provider = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var lease = await AcquireAsync(provider, key, TimeSpan.Zero);

        // As if the lease had run out and another instance had taken the lock.
        var db = await _stores.InspectAsync();
        await db.StringSetAsync(_stores.Prefix + "lock:" + key, (lease.FencingToken + 1000).ToString(System.Globalization.CultureInfo.InvariantCulture), Lease);

        await WaitForRevocationAsync(lease, Lease * 2);
        await lease.DisposeAsync();
        (await db.StringGetAsync(_stores.Prefix + "lock:" + key)).ToString().Should().Be((lease.FencingToken + 1000).ToString(System.Globalization.CultureInfo.InvariantCulture), "a release never deletes another holder's lock");
    }

    [Fact]
    public async Task Lease_WhenRedisCannotBeReached_IsRevokedBeforeItRunsOut()
    {
        await using var server = await RedisServer.StartAsync();
        await using var stores = new RedisTestStores(server, leaseDuration: Lease);
        var provider = stores.LockProvider();
        var lease = await AcquireAsync(provider, StoreConformance.NewKey(), TimeSpan.Zero);

        await server.StopAsync();

        await WaitForRevocationAsync(lease, Lease + TimeSpan.FromSeconds(1));
        await lease.DisposeAsync(); // releasing while Redis is down does not throw: the lease frees itself
    }

    [Fact]
    public async Task Acquire_WhileRedisIsDown_Throws_AndWorksAgainOnceItIsBack()
    {
        await using var server = await RedisServer.StartAsync();
        await using var stores = new RedisTestStores(server, leaseDuration: Lease);
        var provider = stores.LockProvider();
        var key = StoreConformance.NewKey();
        await (await AcquireAsync(provider, key, TimeSpan.Zero)).DisposeAsync();

        await server.StopAsync();
        (await RedisUploadStateStoreTests.CaptureAsync(() => provider.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None).AsTask()))
            .Should().Match<Exception>(e => e is RedisException || e is TimeoutException);
        (await RedisUploadStateStoreTests.CaptureAsync(() => provider.RequestHandoverAsync(key, CancellationToken.None).AsTask()))
            .Should().Match<Exception>(e => e is RedisException || e is TimeoutException);

        await server.StartAgainAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                var lease = await AcquireAsync(provider, key, TimeSpan.Zero);
                await lease.DisposeAsync();
                break;
            }
            catch (Exception e) when ((e is RedisException or TimeoutException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    [Fact]
    public async Task HandoverFlag_LeftByAHolderThatDied_DoesNotRevokeTheNextHolder()
    {
        var a = _stores.LockProvider();
        var b = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var first = await AcquireAsync(a, key, TimeSpan.Zero);

        // A is asked to let go, but dies before it can: the flag stays behind in Redis.
        await ((RedisUploadLease)first).AbandonAsync();
        await b.RequestHandoverAsync(key, CancellationToken.None);
        var db = await _stores.InspectAsync();
        (await db.KeyExistsAsync(_stores.Prefix + "handover:" + key)).Should().BeTrue();

        var next = await AcquireAsync(b, key, (Lease * 3) + Patience);
        await Task.Delay(Lease * 1.5); // several renewals, each of which checks the flag
        next.Revoked.IsCancellationRequested.Should().BeFalse();
        await next.DisposeAsync();
    }

    [Fact]
    public async Task Handover_RevokesOnlyTheHolder_NotALaterHolderOfTheSameKey()
    {
        var a = _stores.LockProvider();
        var b = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var first = await AcquireAsync(a, key, TimeSpan.Zero);

        await b.RequestHandoverAsync(key, CancellationToken.None);
        await WaitForRevocationAsync(first, TimeSpan.FromSeconds(2));
        await first.DisposeAsync();

        var second = await AcquireAsync(a, key, Patience);
        await Task.Delay(Lease);
        second.Revoked.IsCancellationRequested.Should().BeFalse();
        await second.DisposeAsync();
    }

    [Fact]
    public async Task HandoverFlag_WhoseMessageWasLost_IsSeenByTheNextRenewal()
    {
        var provider = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var lease = await AcquireAsync(provider, key, TimeSpan.Zero);

        // The flag without the PUBLISH, as when the holder's subscription was reconnecting.
        var db = await _stores.InspectAsync();
        await db.StringSetAsync(_stores.Prefix + "handover:" + key, lease.FencingToken.ToString(System.Globalization.CultureInfo.InvariantCulture), Lease * 2);

        await WaitForRevocationAsync(lease, Lease);

        // Revoked for a handover, the lease is still renewed until its holder lets go.
        await Task.Delay(Lease * 1.5);
        (await db.StringGetAsync(_stores.Prefix + "lock:" + key)).ToString().Should().Be(lease.FencingToken.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await lease.DisposeAsync();
        (await db.KeyExistsAsync(_stores.Prefix + "lock:" + key)).Should().BeFalse();
        (await db.KeyExistsAsync(_stores.Prefix + "handover:" + key)).Should().BeFalse("the release clears the flag meant for it");
    }

    [Fact]
    public async Task FencingTokens_KeepGrowing_EvenWhenRedisLostTheCounter()
    {
        var provider = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var first = await AcquireAsync(provider, key, TimeSpan.Zero);
        await first.DisposeAsync();

        // A Redis restarted without persistence, or flushed: the counter is gone.
        var db = await _stores.InspectAsync();
        (await db.KeyDeleteAsync(_stores.Prefix + "fencing-token")).Should().BeTrue();

        var second = await AcquireAsync(provider, key, TimeSpan.Zero);
        second.FencingToken.Should().BeGreaterThan(first.FencingToken);
        await second.DisposeAsync();
    }

    [Theory]
    [InlineData("1")]
    [InlineData("-50")]
    public async Task FencingTokens_KeepGrowing_WhenTheCounterWasRolledBack(string rolledBackTo)
    {
        // A failover to a replica that lagged, or a restored snapshot: the counter is back at an older value.
        var provider = _stores.LockProvider();
        var key = StoreConformance.NewKey();
        var first = await AcquireAsync(provider, key, TimeSpan.Zero);
        await first.DisposeAsync();

        var db = await _stores.InspectAsync();
        (await db.StringSetAsync(_stores.Prefix + "fencing-token", rolledBackTo)).Should().BeTrue();

        var second = await AcquireAsync(provider, StoreConformance.NewKey(), TimeSpan.Zero);
        var third = await AcquireAsync(provider, key, TimeSpan.Zero);
        second.FencingToken.Should().BeGreaterThan(first.FencingToken);
        third.FencingToken.Should().BeGreaterThan(second.FencingToken);
        ((long)await db.StringGetAsync(_stores.Prefix + "fencing-token")).Should().Be(third.FencingToken, "the counter is moved up to the token handed out");
        await second.DisposeAsync();
        await third.DisposeAsync();
    }

    [Fact]
    public async Task FencingToken_IsAtLeastTheServersClockInMicroseconds_AndStrictlyGrowsWithinOneMicrosecond()
    {
        var provider = _stores.LockProvider();
        var db = await _stores.InspectAsync();
        var before = await db.ExecuteAsync("TIME");
        var parts = (RedisValue[])before!;
        var clock = (long.Parse((string)parts[0]!, System.Globalization.CultureInfo.InvariantCulture) * 1_000_000) + long.Parse((string)parts[1]!, System.Globalization.CultureInfo.InvariantCulture);

        // Grants far faster than the clock moves still get distinct, growing tokens (the counter runs ahead).
        var tokens = new List<long>();
        for (var i = 0; i < 50; i++)
        {
            var lease = await AcquireAsync(provider, StoreConformance.NewKey(), TimeSpan.Zero);
            tokens.Add(lease.FencingToken);
            await lease.DisposeAsync();
        }

        tokens[0].Should().BeGreaterThanOrEqualTo(clock);
        tokens.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Locks_UnderTwoKeyPrefixes_DoNotContend()
    {
        await using var other = new RedisTestStores(redis.Server, leaseDuration: Lease);
        var key = StoreConformance.NewKey();
        var mine = await AcquireAsync(_stores.LockProvider(), key, TimeSpan.Zero);
        var theirs = await AcquireAsync(other.LockProvider(), key, TimeSpan.Zero);

        await other.LockProvider().RequestHandoverAsync(key, CancellationToken.None);
        await WaitForRevocationAsync(theirs, TimeSpan.FromSeconds(2));
        mine.Revoked.IsCancellationRequested.Should().BeFalse();
        await mine.DisposeAsync();
        await theirs.DisposeAsync();
    }

    [Fact]
    public async Task Release_WakesAWaiterOnAnotherInstance_WithoutWaitingForAPoll()
    {
        await using var slowPolling = new RedisTestStores(redis.Server, leaseDuration: Lease);
        slowPolling.Options.LockPollInterval = TimeSpan.FromSeconds(10);
        var a = slowPolling.LockProvider();
        var b = slowPolling.LockProvider();
        var key = StoreConformance.NewKey();
        var held = await AcquireAsync(a, key, TimeSpan.Zero);

        var waiting = b.TryAcquireAsync(key, TimeSpan.FromSeconds(8), CancellationToken.None).AsTask();
        await Task.Delay(300);
        waiting.IsCompleted.Should().BeFalse();
        await held.DisposeAsync();

        // With a 10 s poll and an 8 s wait, only the release notification can grant it.
        var granted = await waiting;
        granted.Should().NotBeNull();
        await granted!.DisposeAsync();
    }

    [Fact]
    public async Task Provider_AfterGrantsRefusalsAndReleases_KeepsNothingPerKey()
    {
        var a = _stores.LockProvider();
        var b = _stores.LockProvider();
        var keys = Enumerable.Range(0, 5).Select(_ => StoreConformance.NewKey()).ToArray();
        foreach (var key in keys)
        {
            var held = await AcquireAsync(a, key, TimeSpan.Zero);
            (await b.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None)).Should().BeNull();
            (await b.TryAcquireAsync(key, TimeSpan.FromMilliseconds(120), CancellationToken.None)).Should().BeNull();
            await held.DisposeAsync();
            await (await AcquireAsync(b, key, Patience)).DisposeAsync();
        }

        a.TrackedKeys.Should().Be(0);
        b.TrackedKeys.Should().Be(0);
    }

    private static async Task<IUploadLease> AcquireAsync(RedisUploadLockProvider provider, string key, TimeSpan timeout)
    {
        var held = await provider.TryAcquireAsync(key, timeout, CancellationToken.None);
        held.Should().NotBeNull();
        return held.Should().BeAssignableTo<IUploadLease>().Subject;
    }

    private static async Task WaitForRevocationAsync(IUploadLease lease, TimeSpan within)
    {
        var revoked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lease.Revoked.Register(() => revoked.TrySetResult());
        var finished = await Task.WhenAny(revoked.Task, Task.Delay(within));
        finished.Should().BeSameAs(revoked.Task, $"the lease should be revoked within {within.TotalSeconds} s");
    }
}
