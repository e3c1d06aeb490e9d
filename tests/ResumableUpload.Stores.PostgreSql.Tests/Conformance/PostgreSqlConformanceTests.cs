using Microsoft.Extensions.Logging.Abstractions;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.PostgreSql.Tests.Conformance;

// The store conformance suite (ResumableUpload.Testing) against a real PostgreSQL server. Every test gets a schema of
// its own; every store or provider it creates gets a connection pool of its own, as separate app instances would.

[Collection(PostgresCollectionDefinition.Name)]
public sealed class PostgreSqlStateStoreConformanceTests(PostgresFixture postgres) : UploadStateStoreConformanceTests
{
    private readonly PostgreSqlStoreOptions _options = postgres.NewOptions();
    private readonly List<PostgreSqlStoreContext> _contexts = [];

    protected override bool EnforcesFencing => true;

    public override async Task InitializeAsync() => _contexts.Add(await PostgresFixture.MigratedContextAsync(_options));

    protected override ValueTask<IUploadStateStore> CreateStoreAsync()
    {
        var context = new PostgreSqlStoreContext(_options);
        _contexts.Add(context);
        return ValueTask.FromResult<IUploadStateStore>(new PostgreSqlUploadStateStore(context));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }
}

[Collection(PostgresCollectionDefinition.Name)]
public sealed class PostgreSqlLockProviderConformanceTests(PostgresFixture postgres) : UploadLeaseProviderConformanceTests
{
    private readonly PostgreSqlStoreOptions _options = postgres.NewOptions();
    private readonly List<PostgreSqlStoreContext> _contexts = [];

    protected override TimeSpan LeaseDuration => _options.LeaseDuration;

    public override async Task InitializeAsync() => _contexts.Add(await PostgresFixture.MigratedContextAsync(_options));

    protected override ValueTask<IUploadLockProvider> CreateProviderAsync()
    {
        var context = new PostgreSqlStoreContext(_options);
        _contexts.Add(context);
        return ValueTask.FromResult<IUploadLockProvider>(new PostgreSqlUploadLockProvider(context, TimeProvider.System, NullLogger<PostgreSqlUploadLockProvider>.Instance));
    }

    // A killed process stops renewing and never releases: its row stays until the database's clock passes expires_at.
    protected override ValueTask CrashAsync(IUploadLease lease)
    {
        ((PostgreSqlLease)lease).Abandon();
        return ValueTask.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync(); // providers first: they use the contexts' pools
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }
}
