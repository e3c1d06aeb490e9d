using ResumableUpload.Middleware.Storage;
using Xunit;

namespace ResumableUpload.Testing;

/// <summary>
/// The contract of <see cref="IUploadStateStore"/> the engine relies on. Derive from this class in a test project and
/// return your store from <see cref="CreateStoreAsync"/>; every test runs against a fresh instance (keys are fresh
/// too, so a shared backend is fine).
/// </summary>
public abstract class UploadStateStoreConformanceTests : ConformanceTestBase<IUploadStateStore>
{
    /// <summary>Creates a store. Called once or more per test; instances made in one test share one backend, as app instances would.</summary>
    protected abstract ValueTask<IUploadStateStore> CreateStoreAsync();

    /// <summary>Whether the store enforces <see cref="UploadRecord.FencingToken"/> (refuses to replace a record with one of a lower token).</summary>
    protected virtual bool EnforcesFencing => false;

    private Task<IUploadStateStore> StoreAsync() => TrackAsync(CreateStoreAsync);

    /// <summary>An unknown key has no record.</summary>
    [Fact]
    public async Task Get_UnknownKey_ReturnsNull()
    {
        var store = await StoreAsync();
        Assert.Null(await store.GetAsync(StoreConformance.NewKey(), CancellationToken.None));
    }

    /// <summary>Every field survives a save and a load, including Unicode, metadata, parts and digests.</summary>
    [Fact]
    public async Task Save_ThenGet_RoundTripsEveryField()
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord() with
        {
            Offset = 524_288,
            IsPartial = true,
            Parts = ["part-a", "part-b"],
            PartReferences = ["/files/a", "/files/b"],
            RepresentationDigest = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            FencingToken = 7,
        };

        await store.SaveAsync(record, CancellationToken.None);
        var loaded = await store.GetAsync(record.Key, CancellationToken.None);

        Assert.NotNull(loaded);
        AssertSame(record, loaded);
        Assert.Equal(["part-a", "part-b"], loaded.Parts);
        Assert.Equal(["/files/a", "/files/b"], loaded.PartReferences);
        Assert.True(loaded.IsPartial);
        Assert.Equal(record.RepresentationDigest, loaded.RepresentationDigest);
    }

    /// <summary>A record without optional fields loads with them absent (not empty lists, not zero lengths).</summary>
    [Fact]
    public async Task Save_MinimalRecord_LoadsWithoutOptionalFields()
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord() with { Length = null, Metadata = new Dictionary<string, string>() };

        await store.SaveAsync(record, CancellationToken.None);
        var loaded = await store.GetAsync(record.Key, CancellationToken.None);

        Assert.NotNull(loaded);
        Assert.Null(loaded.Length);
        Assert.Null(loaded.Parts);
        Assert.Null(loaded.PartReferences);
        Assert.Null(loaded.RepresentationDigest);
        Assert.Empty(loaded.Metadata);
    }

    /// <summary>Saving a record with the same key replaces the whole record.</summary>
    [Fact]
    public async Task Save_SameKey_ReplacesTheRecord()
    {
        var store = await StoreAsync();
        var first = StoreConformance.NewRecord();
        await store.SaveAsync(first, CancellationToken.None);

        var second = first with { Offset = 1_048_576, IsCompleted = true, UpdatedAt = first.UpdatedAt.AddSeconds(3), Metadata = new Dictionary<string, string> { ["k"] = "v" } };
        await store.SaveAsync(second, CancellationToken.None);

        var loaded = await store.GetAsync(first.Key, CancellationToken.None);
        Assert.NotNull(loaded);
        AssertSame(second, loaded);
    }

    /// <summary>Records of different keys never see each other.</summary>
    [Fact]
    public async Task Save_DifferentKeys_AreIndependent()
    {
        var store = await StoreAsync();
        var a = StoreConformance.NewRecord() with { Offset = 1 };
        var b = StoreConformance.NewRecord() with { Offset = 2 };
        await store.SaveAsync(a, CancellationToken.None);
        await store.SaveAsync(b, CancellationToken.None);

        Assert.Equal(1, (await store.GetAsync(a.Key, CancellationToken.None))!.Offset);
        Assert.Equal(2, (await store.GetAsync(b.Key, CancellationToken.None))!.Offset);
        Assert.True(await store.DeleteAsync(a.Key, 0, CancellationToken.None));
        Assert.NotNull(await store.GetAsync(b.Key, CancellationToken.None));
    }

    /// <summary>Delete removes the record and says whether there was one.</summary>
    [Fact]
    public async Task Delete_RemovesTheRecord_AndReportsWhetherThereWasOne()
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord();
        await store.SaveAsync(record, CancellationToken.None);

        Assert.True(await store.DeleteAsync(record.Key, 0, CancellationToken.None));
        Assert.Null(await store.GetAsync(record.Key, CancellationToken.None));
        Assert.False(await store.DeleteAsync(record.Key, 0, CancellationToken.None));
    }

    /// <summary>The expiry listing returns the records expiring at or before the given time, and no others.</summary>
    [Fact]
    public async Task GetExpired_ListsRecordsExpiredAtOrBeforeNow_Only()
    {
        var store = await StoreAsync();
        var now = StoreConformance.Truncate(DateTimeOffset.UtcNow).AddYears(50); // later than anything another test saved
        var past = StoreConformance.NewRecord(now: now.AddDays(-2)) with { ExpiresAt = now.AddMinutes(-1) };
        var exact = StoreConformance.NewRecord(now: now.AddDays(-2)) with { ExpiresAt = now };
        var future = StoreConformance.NewRecord(now: now.AddDays(-2)) with { ExpiresAt = now.AddMinutes(1) };
        foreach (var record in new[] { past, exact, future })
        {
            await store.SaveAsync(record, CancellationToken.None);
        }

        var keys = new HashSet<string>();
        await foreach (var record in store.GetExpiredAsync(now, CancellationToken.None))
        {
            keys.Add(record.Key);
        }

        Assert.Contains(past.Key, keys);
        Assert.Contains(exact.Key, keys);
        Assert.DoesNotContain(future.Key, keys);
    }

    /// <summary>A record whose expiry moved into the future leaves the expiry listing.</summary>
    [Fact]
    public async Task GetExpired_AfterExpiryIsExtended_NoLongerListsTheRecord()
    {
        var store = await StoreAsync();
        var now = StoreConformance.Truncate(DateTimeOffset.UtcNow).AddYears(60);
        var record = StoreConformance.NewRecord(now: now) with { ExpiresAt = now.AddMinutes(-1) };
        await store.SaveAsync(record, CancellationToken.None);
        await store.SaveAsync(record with { ExpiresAt = now.AddHours(1) }, CancellationToken.None);

        await foreach (var expired in store.GetExpiredAsync(now, CancellationToken.None))
        {
            Assert.NotEqual(record.Key, expired.Key);
        }
    }

    /// <summary>Many uploads saving at once (from two store instances, as two app instances would) all keep their last record.</summary>
    [Fact]
    public async Task Save_ConcurrentUploadsFromTwoInstances_AllKeepTheirLastRecord()
    {
        var stores = new[] { await StoreAsync(), await StoreAsync() };
        var records = Enumerable.Range(0, 32).Select(_ => StoreConformance.NewRecord()).ToArray();

        await Parallel.ForEachAsync(Enumerable.Range(0, records.Length), async (i, ct) =>
        {
            var store = stores[i % 2];
            for (var step = 1; step <= 10; step++)
            {
                await store.SaveAsync(records[i] with { Offset = step * 1000L }, ct);
            }
        });

        foreach (var record in records)
        {
            var loaded = await stores[1].GetAsync(record.Key, CancellationToken.None);
            Assert.Equal(10_000, loaded!.Offset);
        }
    }

    /// <summary>A reader racing a writer sees a whole old record or a whole new one, never a mix.</summary>
    [Fact]
    public async Task Get_WhileSaving_SeesWholeRecordsOnly()
    {
        var writer = await StoreAsync();
        var reader = await StoreAsync();
        var record = StoreConformance.NewRecord();
        await writer.SaveAsync(record with { Metadata = new Dictionary<string, string> { ["offset"] = "0" } }, CancellationToken.None);

        using var done = new CancellationTokenSource();
        var writing = Task.Run(async () =>
        {
            for (var step = 1; step <= 200; step++)
            {
                await writer.SaveAsync(record with { Offset = step, Metadata = new Dictionary<string, string> { ["offset"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture) } }, CancellationToken.None);
            }

            await done.CancelAsync();
        });

        var reads = 0;
        while (!done.IsCancellationRequested || reads == 0)
        {
            var loaded = await reader.GetAsync(record.Key, CancellationToken.None);
            Assert.NotNull(loaded);
            Assert.Equal(loaded.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), loaded.Metadata["offset"]);
            reads++;
        }

        await writing;
        Assert.Equal(200, (await reader.GetAsync(record.Key, CancellationToken.None))!.Offset);
    }

    /// <summary>A fencing store refuses a record saved under an older lease and keeps the newer one.</summary>
    [Fact]
    public async Task Save_WithLowerFencingToken_IsRefusedByAFencingStore()
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 5, Offset = 100 };
        await store.SaveAsync(record, CancellationToken.None);

        var stale = record with { FencingToken = 4, Offset = 50 };
        if (!EnforcesFencing)
        {
            await store.SaveAsync(stale, CancellationToken.None);
            return;
        }

        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.SaveAsync(stale, CancellationToken.None));
        Assert.Equal(100, (await store.GetAsync(record.Key, CancellationToken.None))!.Offset);

        // The same lease and a newer one may save.
        await store.SaveAsync(record with { Offset = 150 }, CancellationToken.None);
        await store.SaveAsync(record with { FencingToken = 9, Offset = 160 }, CancellationToken.None);
        Assert.Equal(160, (await store.GetAsync(record.Key, CancellationToken.None))!.Offset);
    }

    /// <summary>Cancellation is honoured.</summary>
    [Fact]
    public async Task Get_WithCancelledToken_Throws()
    {
        var store = await StoreAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.GetAsync(StoreConformance.NewKey(), cancelled.Token));
    }

    private static void AssertSame(UploadRecord expected, UploadRecord actual)
    {
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.Partition, actual.Partition);
        Assert.Equal(expected.FileId, actual.FileId);
        Assert.Equal(expected.Offset, actual.Offset);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.IsCompleted, actual.IsCompleted);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.UpdatedAt, actual.UpdatedAt);
        Assert.Equal(expected.ExpiresAt, actual.ExpiresAt);
        Assert.Equal(expected.FencingToken, actual.FencingToken);
        Assert.Equal(expected.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal), actual.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal));
    }
}
