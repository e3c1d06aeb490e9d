using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.Redis.Tests.Infrastructure;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.Redis.Tests.Conformance;

// The conformance suite (ResumableUpload.Testing) against a real redis-server. Every store or provider a test creates
// has its own connection, as separate app instances would, and a test's instances share one key prefix.

[Collection(RedisServerGroup.Name)]
public sealed class RedisStateStoreConformanceTests(RedisFixture redis) : UploadStateStoreConformanceTests
{
    private readonly RedisTestStores _stores = new(redis.Server);

    protected override bool EnforcesFencing => true;

    protected override ValueTask<IUploadStateStore> CreateStoreAsync() => ValueTask.FromResult<IUploadStateStore>(_stores.StateStore());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}

[Collection(RedisServerGroup.Name)]
public sealed class RedisLeaseProviderConformanceTests(RedisFixture redis) : UploadLeaseProviderConformanceTests
{
    // 3 s (renewed every second): the renewal must not miss its slot while the other test projects load both cores.
    private readonly RedisTestStores _stores = new(redis.Server, leaseDuration: TimeSpan.FromSeconds(3));

    protected override TimeSpan LeaseDuration => _stores.Options.LeaseDuration;

    protected override ValueTask<IUploadLockProvider> CreateProviderAsync() => ValueTask.FromResult<IUploadLockProvider>(_stores.LockProvider());

    protected override ValueTask CrashAsync(IUploadLease lease) => ((RedisUploadLease)lease).AbandonAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _stores.DisposeAsync();
    }
}
