using Microsoft.Extensions.Logging.Abstractions;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.PostgreSql.Tests.Storage;

/// <summary>Leases, fencing and handover between two "instances" (each with a pool of its own) on a real server.</summary>
[Collection(PostgresCollectionDefinition.Name)]
public sealed class LeaseAndFencingTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private PostgreSqlStoreOptions _options = null!;

    public async Task InitializeAsync()
    {
        _options = postgres.NewOptions(leaseDuration: TimeSpan.FromSeconds(1.5));
        _owned.Add(await PostgresFixture.MigratedContextAsync(_options));
    }

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    [Fact]
    public async Task StaleHolder_PausedPastItsLease_CannotSaveOverTheNextHolder()
    {
        var (lockA, stateA) = Instance();
        var (lockB, stateB) = Instance();
        var key = StoreConformance.NewKey();

        // A holds the lease and publishes 100 bytes.
        var leaseA = (PostgreSqlLease)(await lockA.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None))!;
        var record = StoreConformance.NewRecord(key) with { Offset = 100, FencingToken = leaseA.FencingToken };
        await stateA.SaveAsync(record, CancellationToken.None);

        // A pauses (no renewals) long enough for its lease to run out; B takes over with a larger token and saves.
        leaseA.Abandon();
        var leaseB = Assert.IsAssignableFrom<IUploadLease>(await lockB.TryAcquireAsync(key, TimeSpan.FromSeconds(10), CancellationToken.None));
        leaseB.FencingToken.Should().BeGreaterThan(leaseA.FencingToken);
        await stateB.SaveAsync(record with { Offset = 200, FencingToken = leaseB.FencingToken }, CancellationToken.None);

        // A wakes up and tries to publish what it wrote meanwhile: refused, and B's record stays.
        var save = async () => await stateA.SaveAsync(record with { Offset = 150 }, CancellationToken.None);
        await save.Should().ThrowAsync<UploadLeaseLostException>();
        var stored = await stateB.GetAsync(key, CancellationToken.None);
        stored!.Offset.Should().Be(200);
        stored.FencingToken.Should().Be(leaseB.FencingToken);
        await leaseB.DisposeAsync();
    }

    [Fact]
    public async Task Holder_WhoseRowWasTakenOver_IsRevokedAtItsNextRenewal()
    {
        var (lockA, _) = Instance();
        var (lockB, _) = Instance();
        var key = StoreConformance.NewKey();
        var leaseA = Assert.IsAssignableFrom<IUploadLease>(await lockA.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));

        // As if A had been paused past its expiry: the database's clock says the lease ran out, and B takes it.
        await postgres.Server.PsqlAsync("resumable_upload_tests", $"UPDATE {_options.Schema}.{_options.LeasesTable} SET expires_at = now() - interval '1 second' WHERE key = '{key}'");
        var leaseB = Assert.IsAssignableFrom<IUploadLease>(await lockB.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));

        await WaitForAsync(TimeSpan.FromSeconds(5), leaseA.Revoked);
        leaseB.Revoked.IsCancellationRequested.Should().BeFalse();

        // A's release must not free B's lock.
        await leaseA.DisposeAsync();
        (await lockA.TryAcquireAsync(key, TimeSpan.FromMilliseconds(100), CancellationToken.None)).Should().BeNull();
        await leaseB.DisposeAsync();
    }

    [Fact]
    public async Task Handover_WithALongLease_ReachesTheHolderThroughNotify_WithinTwoSeconds()
    {
        // With a 60 s lease the holder renews only every 20 s, so only LISTEN/NOTIFY can tell it in time.
        var options = postgres.NewOptions(leaseDuration: TimeSpan.FromSeconds(60), schema: _options.Schema);
        var (lockA, _) = Instance(options);
        var (lockB, _) = Instance(options);
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await lockA.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));
        await Task.Delay(300); // the listener of A is connected

        await ((IUploadLockHandover)lockB).RequestHandoverAsync(key, CancellationToken.None);

        await WaitForAsync(TimeSpan.FromSeconds(2), lease.Revoked);
        await lease.DisposeAsync();
        var next = await lockB.TryAcquireAsync(key, TimeSpan.FromSeconds(2), CancellationToken.None);
        next.Should().NotBeNull();
        await next!.DisposeAsync();
    }

    [Fact]
    public async Task Lease_IsRenewedWithTheDatabaseClock_AndItsRowIsDeletedOnRelease()
    {
        var (lockA, _) = Instance();
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await lockA.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));
        var query = $"SELECT token, expires_at > now() + interval '0.5 second' FROM {_options.Schema}.{_options.LeasesTable} WHERE key = '{key}'";

        await Task.Delay(TimeSpan.FromSeconds(3)); // two lease durations: only renewals keep the row in the future
        (await postgres.Server.PsqlAsync("resumable_upload_tests", query)).Trim().Should().Be($"{lease.FencingToken}|t");

        await lease.DisposeAsync();
        (await postgres.Server.PsqlAsync("resumable_upload_tests", query)).Trim().Should().BeEmpty();
    }

    private (PostgreSqlUploadLockProvider Locks, PostgreSqlUploadStateStore State) Instance(PostgreSqlStoreOptions? options = null)
    {
        var context = new PostgreSqlStoreContext(options ?? _options);
        var locks = new PostgreSqlUploadLockProvider(context, TimeProvider.System, NullLogger<PostgreSqlUploadLockProvider>.Instance);
        _owned.Add(context);
        _owned.Add(locks); // disposed first (reverse order)
        return (locks, new PostgreSqlUploadStateStore(context));
    }

    private static async Task WaitForAsync(TimeSpan patience, CancellationToken revoked)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = revoked.Register(() => fired.TrySetResult());
        var completed = await Task.WhenAny(fired.Task, Task.Delay(patience, CancellationToken.None));
        completed.Should().BeSameAs(fired.Task, $"the lease should have been revoked within {patience}");
    }
}
