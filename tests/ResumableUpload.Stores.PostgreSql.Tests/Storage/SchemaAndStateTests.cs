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

            runs.Count(applied => applied.Count == 2).Should().Be(1, "exactly one instance applies 001_initial and 002_tombstones; the others find them done");
            runs.Where(applied => applied.Count != 2).Should().AllSatisfy(applied => applied.Should().BeEmpty());
            (await PostgreSqlMigrations.MigrateAsync(contexts[0], NullLogger.Instance, CancellationToken.None)).Should().BeEmpty();
            (await postgres.Server.PsqlAsync(database, "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM uploads.resumable_upload_records_migrations")).Trim().Should().Be("1:001_initial,2:002_tombstones");
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
        foreach (var (_, name, text) in PostgreSqlMigrations.Scripts)
        {
            var script = Path.Combine(Path.GetTempPath(), $"{name}-{Guid.NewGuid():N}.sql");
            await File.WriteAllTextAsync(script, text);
            try
            {
                // Twice: the scripts are idempotent.
                await postgres.Server.PsqlScriptAsync("resumable_upload_tests", script, context.Names);
                await postgres.Server.PsqlScriptAsync("resumable_upload_tests", script, context.Names);
            }
            finally
            {
                File.Delete(script);
            }
        }

        (await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT count(*) FROM pg_tables WHERE schemaname = '{options.Schema}'")).Trim().Should().Be("3");
        (await PostgreSqlMigrations.MigrateAsync(context, NullLogger.Instance, CancellationToken.None)).Should().BeEmpty();
    }

    [Fact]
    public async Task Delete_UnderALease_LeavesATombstoneRow_ThatReadersSkip_UntilTheSweepPrunesIt()
    {
        var options = postgres.NewOptions();
        await using var context = await PostgresFixture.MigratedContextAsync(options);
        var store = new PostgreSqlUploadStateStore(context);
        var now = DateTimeOffset.UtcNow;
        var record = StoreConformance.NewRecord(now: now.AddDays(-3)) with { ExpiresAt = now.AddMinutes(-1), FencingToken = 30 };
        await store.SaveAsync(record, CancellationToken.None);

        (await store.DeleteAsync(record.Key, 31, CancellationToken.None)).Should().BeTrue();

        var row = $"SELECT fencing_token || '|' || (deleted_at IS NOT NULL) || '|' || metadata::text || '|' || expires_at FROM {context.Records} WHERE key = '{record.Key}'";
        (await postgres.Server.PsqlAsync("resumable_upload_tests", row)).Trim().Should().Be("31|true|{}|infinity");
        (await store.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
        (await ListExpiredAsync(store, now)).Should().NotContain(record.Key, "a tombstone is not an expired upload");
        var stale = async () => await store.SaveAsync(record, CancellationToken.None);
        await stale.Should().ThrowAsync<UploadLeaseLostException>();

        // A day later the sweep removes it; after that nothing is left to fence with.
        await postgres.Server.PsqlAsync("resumable_upload_tests", $"UPDATE {context.Records} SET deleted_at = now() - interval '25 hours' WHERE key = '{record.Key}'");
        await ListExpiredAsync(store, now);
        (await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT count(*) FROM {context.Records} WHERE key = '{record.Key}'")).Trim().Should().Be("0");
    }

    [Fact]
    public async Task Delete_WithoutALease_RemovesTheRow()
    {
        var options = postgres.NewOptions();
        await using var context = await PostgresFixture.MigratedContextAsync(options);
        var store = new PostgreSqlUploadStateStore(context);
        var record = StoreConformance.NewRecord();
        await store.SaveAsync(record, CancellationToken.None);

        (await store.DeleteAsync(record.Key, 0, CancellationToken.None)).Should().BeTrue();

        (await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT count(*) FROM {context.Records} WHERE key = '{record.Key}'")).Trim().Should().Be("0");
        (await store.DeleteAsync(record.Key, 0, CancellationToken.None)).Should().BeFalse();
    }

    private static async Task<List<string>> ListExpiredAsync(PostgreSqlUploadStateStore store, DateTimeOffset now)
    {
        var keys = new List<string>();
        await foreach (var expired in store.GetExpiredAsync(now, CancellationToken.None))
        {
            keys.Add(expired.Key);
        }

        return keys;
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
