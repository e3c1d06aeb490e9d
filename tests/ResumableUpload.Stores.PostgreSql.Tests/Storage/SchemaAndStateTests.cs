using Microsoft.Extensions.Logging.Abstractions;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.PostgreSql.Tests.Storage;

/// <summary>The migration, schema isolation and what the state store keeps beyond the conformance suite.</summary>
[Collection(PostgresCollectionDefinition.Name)]
public sealed class SchemaAndStateTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Migration_RunFourTimesAtOnceOnAFreshDatabase_CreatesTheSchemaOnce()
    {
        var connectionString = await postgres.Server.CreateDatabaseAsync();
        var database = connectionString.Split(';').Single(p => p.StartsWith("Database=", StringComparison.Ordinal))["Database=".Length..];
        var options = new PostgreSqlStoreOptions { ConnectionString = connectionString, Schema = "uploads" };
        var contexts = Enumerable.Range(0, 4).Select(_ => new PostgreSqlStoreContext(options)).ToArray();
        try
        {
            var runs = await Task.WhenAll(contexts.Select(c => PostgreSqlMigrations.MigrateAsync(c, NullLogger.Instance, CancellationToken.None)));

            runs.Count(applied => applied.Count == 1).Should().Be(1, "exactly one instance applies 001_initial; the others find it done");
            runs.Where(applied => applied.Count != 1).Should().AllSatisfy(applied => applied.Should().BeEmpty());
            (await PostgreSqlMigrations.MigrateAsync(contexts[0], NullLogger.Instance, CancellationToken.None)).Should().BeEmpty();
            (await postgres.Server.PsqlAsync(database, "SELECT version || ':' || name FROM uploads.resumable_upload_records_migrations")).Trim().Should().Be("1:001_initial");
            (await postgres.Server.PsqlAsync(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'uploads'")).Trim().Should().Be("3");

            // And the stores work on it.
            var store = new PostgreSqlUploadStateStore(contexts[1]);
            var record = StoreConformance.NewRecord();
            await store.SaveAsync(record, CancellationToken.None);
            (await store.GetAsync(record.Key, CancellationToken.None)).Should().NotBeNull();
        }
        finally
        {
            foreach (var context in contexts)
            {
                await context.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Migration_AfterTheTablesWereMadeByHand_AddsNothingAndRecordsItsVersion()
    {
        // A DBA ran the shipped script with psql (-v for the names) before the app started.
        var options = postgres.NewOptions();
        await using var context = new PostgreSqlStoreContext(options);
        var script = Path.Combine(Path.GetTempPath(), $"001_initial-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, PostgreSqlMigrations.Scripts[0].Script);
        try
        {
            await postgres.Server.PsqlScriptAsync("resumable_upload_tests", script, context.Names);
        }
        finally
        {
            File.Delete(script);
        }

        (await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT count(*) FROM pg_tables WHERE schemaname = '{options.Schema}'")).Trim().Should().Be("3");
        (await PostgreSqlMigrations.MigrateAsync(context, NullLogger.Instance, CancellationToken.None)).Should().BeEmpty();
    }

    [Fact]
    public async Task TwoSchemas_InOneDatabase_NeverSeeEachOthersRecordsOrLocks()
    {
        await using var a = await PostgresFixture.MigratedContextAsync(postgres.NewOptions());
        await using var b = await PostgresFixture.MigratedContextAsync(postgres.NewOptions());
        var key = StoreConformance.NewKey();

        await new PostgreSqlUploadStateStore(a).SaveAsync(StoreConformance.NewRecord(key), CancellationToken.None);
        (await new PostgreSqlUploadStateStore(b).GetAsync(key, CancellationToken.None)).Should().BeNull();
        (await new PostgreSqlUploadStateStore(b).DeleteAsync(key, 0, CancellationToken.None)).Should().BeFalse();

        await using var locksA = new PostgreSqlUploadLockProvider(a, TimeProvider.System, NullLogger<PostgreSqlUploadLockProvider>.Instance);
        await using var locksB = new PostgreSqlUploadLockProvider(b, TimeProvider.System, NullLogger<PostgreSqlUploadLockProvider>.Instance);
        var heldA = await locksA.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        var heldB = await locksB.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None);
        heldA.Should().NotBeNull();
        heldB.Should().NotBeNull("the same key in another schema is another upload");

        // A handover asked in schema B does not reach A's holder.
        await locksB.RequestHandoverAsync(key, CancellationToken.None);
        await Task.Delay(500);
        ((IUploadLease)heldA!).Revoked.IsCancellationRequested.Should().BeFalse();
        await heldA.DisposeAsync();
        await heldB!.DisposeAsync();
    }

    [Fact]
    public async Task Metadata_WithANulCharacter_RoundTrips()
    {
        // tus metadata values are decoded from base64 by the engine, so a client can send U+0000 (jsonb cannot hold it).
        await using var context = await PostgresFixture.MigratedContextAsync(postgres.NewOptions());
        var store = new PostgreSqlUploadStateStore(context);
        var record = StoreConformance.NewRecord() with { Metadata = new Dictionary<string, string> { ["name\0x"] = "a\0b", ["quote"] = "\"'\\" } };

        await store.SaveAsync(record, CancellationToken.None);
        var loaded = await store.GetAsync(record.Key, CancellationToken.None);

        loaded!.Metadata.Should().BeEquivalentTo(record.Metadata);
    }

    [Fact]
    public async Task Timestamps_RoundTripToTheMicrosecond_AndGetExpiredUsesTheGivenTime()
    {
        await using var context = await PostgresFixture.MigratedContextAsync(postgres.NewOptions());
        var store = new PostgreSqlUploadStateStore(context);
        var at = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)).AddTicks(1_234_560);
        var record = StoreConformance.NewRecord() with { CreatedAt = at, UpdatedAt = at, ExpiresAt = at };

        await store.SaveAsync(record, CancellationToken.None);
        var loaded = await store.GetAsync(record.Key, CancellationToken.None);

        loaded!.ExpiresAt.Should().Be(at);
        loaded.ExpiresAt.Offset.Should().Be(TimeSpan.Zero);
        var expired = new List<string>();
        await foreach (var r in store.GetExpiredAsync(at.AddTicks(-10), CancellationToken.None))
        {
            expired.Add(r.Key);
        }

        expired.Should().NotContain(record.Key);
    }
}
