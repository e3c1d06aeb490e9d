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

    /// <summary>
    /// Whether a fenced <see cref="IUploadStateStore.DeleteAsync"/> leaves a tombstone (the deleting holder's token is
    /// remembered, so an older holder can neither claim nor re-create the record). Defaults to <see cref="EnforcesFencing"/>.
    /// </summary>
    protected virtual bool KeepsTombstones => EnforcesFencing;

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

    /// <summary>Claiming a key without a record returns null (there is nothing to claim yet).</summary>
    [Fact]
    public async Task Claim_KeyWithoutRecord_ReturnsNull()
    {
        var store = await StoreAsync();
        Assert.Null(await store.ClaimAsync(StoreConformance.NewKey(), 3, CancellationToken.None));
    }

    /// <summary>A claim returns the record with the new token, and stores that token (another instance reads it).</summary>
    [Fact]
    public async Task Claim_WithANewerToken_ReturnsTheRecordWithTheToken_AndStoresIt()
    {
        var store = await StoreAsync();
        var other = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 4, Offset = 80 };
        await store.SaveAsync(record, CancellationToken.None);

        var claimed = await other.ClaimAsync(record.Key, 6, CancellationToken.None);

        Assert.NotNull(claimed);
        Assert.Equal(6, claimed.FencingToken);
        Assert.Equal(80, claimed.Offset);
        Assert.Equal(record.FileId, claimed.FileId);
        Assert.Equal(6, (await store.GetAsync(record.Key, CancellationToken.None))!.FencingToken);
    }

    /// <summary>Claims are strictly newer: the same token twice, or a lower one, is refused and changes nothing.</summary>
    [Theory]
    [InlineData(6)]
    [InlineData(5)]
    public async Task Claim_WithTheStoredOrALowerToken_IsRefusedByAFencingStore(long token)
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 2, Offset = 10 };
        await store.SaveAsync(record, CancellationToken.None);
        Assert.NotNull(await store.ClaimAsync(record.Key, 6, CancellationToken.None));
        if (!EnforcesFencing)
        {
            return;
        }

        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.ClaimAsync(record.Key, token, CancellationToken.None));
        var stored = await store.GetAsync(record.Key, CancellationToken.None);
        Assert.Equal(6, stored!.FencingToken);
        Assert.Equal(10, stored.Offset);
    }

    /// <summary>Once a newer holder claimed the record, the older holder can neither save nor delete it; the newer one can.</summary>
    [Fact]
    public async Task Claim_ByANewerHolder_FencesOutTheOlderHoldersSaveAndDelete()
    {
        var older = await StoreAsync();
        var newer = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 7, Offset = 100 };
        await older.SaveAsync(record, CancellationToken.None);
        await newer.ClaimAsync(record.Key, 8, CancellationToken.None);
        if (!EnforcesFencing)
        {
            return;
        }

        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await older.SaveAsync(record with { Offset = 200 }, CancellationToken.None));
        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await older.DeleteAsync(record.Key, 7, CancellationToken.None));
        Assert.Equal(100, (await newer.GetAsync(record.Key, CancellationToken.None))!.Offset);

        await newer.SaveAsync(record with { FencingToken = 8, Offset = 150 }, CancellationToken.None);
        Assert.Equal(150, (await older.GetAsync(record.Key, CancellationToken.None))!.Offset);
        Assert.True(await newer.DeleteAsync(record.Key, 8, CancellationToken.None));
        Assert.Null(await older.GetAsync(record.Key, CancellationToken.None));
    }

    /// <summary>A fenced delete leaves a tombstone: a holder with an older token can neither claim nor re-create the record; a newer one can.</summary>
    [Fact]
    public async Task Delete_Fenced_LeavesATombstone_ThatRefusesAnOlderClaimOrSave()
    {
        var store = await StoreAsync();
        var other = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 10, Offset = 64 };
        await store.SaveAsync(record, CancellationToken.None);
        Assert.True(await other.DeleteAsync(record.Key, 12, CancellationToken.None));
        Assert.Null(await store.GetAsync(record.Key, CancellationToken.None));
        if (!KeepsTombstones)
        {
            return;
        }

        // The holder of token 10 (or 11, granted in between) was paused through the delete.
        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.SaveAsync(record with { Offset = 128 }, CancellationToken.None));
        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.ClaimAsync(record.Key, 11, CancellationToken.None));
        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.ClaimAsync(record.Key, 12, CancellationToken.None));
        Assert.Null(await other.GetAsync(record.Key, CancellationToken.None));
        await foreach (var expired in store.GetExpiredAsync(DateTimeOffset.MaxValue, CancellationToken.None))
        {
            Assert.NotEqual(record.Key, expired.Key);
        }

        // A newer holder starts the upload again under the same key.
        Assert.Null(await other.ClaimAsync(record.Key, 13, CancellationToken.None));
        await other.SaveAsync(record with { FencingToken = 13, Offset = 0 }, CancellationToken.None);
        Assert.Equal(13, (await store.GetAsync(record.Key, CancellationToken.None))!.FencingToken);
    }

    /// <summary>A delete under an older token than the stored one is refused and removes nothing.</summary>
    [Fact]
    public async Task Delete_WithAnOlderToken_IsRefusedByAFencingStore()
    {
        var store = await StoreAsync();
        var record = StoreConformance.NewRecord() with { FencingToken = 9 };
        await store.SaveAsync(record, CancellationToken.None);
        if (!EnforcesFencing)
        {
            return;
        }

        await Assert.ThrowsAsync<UploadLeaseLostException>(async () => await store.DeleteAsync(record.Key, 8, CancellationToken.None));
        Assert.NotNull(await store.GetAsync(record.Key, CancellationToken.None));
        Assert.True(await store.DeleteAsync(record.Key, 9, CancellationToken.None));
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
