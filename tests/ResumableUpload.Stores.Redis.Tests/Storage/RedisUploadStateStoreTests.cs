using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.Redis.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis.Tests.Storage;

[Collection(RedisServerGroup.Name)]
public sealed class RedisUploadStateStoreTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly RedisTestStores _stores = new(redis.Server);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _stores.DisposeAsync();

    [Fact]
    public async Task Save_WritesTheRecordAndItsExpiryIndexEntry_WithoutARedisTtl()
    {
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord();
        await store.SaveAsync(record, CancellationToken.None);

        var db = await _stores.InspectAsync();
        var score = await db.SortedSetScoreAsync(_stores.Prefix + "expiry", record.Key);
        score.Should().Be(record.ExpiresAt.ToUnixTimeMilliseconds());
        (await db.KeyTimeToLiveAsync(_stores.Prefix + "upload:" + record.Key)).Should().BeNull("the engine's expiry sweep removes records, not Redis");
        (await db.HashGetAsync(_stores.Prefix + "upload:" + record.Key, "fence")).ToString().Should().Be("0");
    }

    [Fact]
    public async Task Save_WithALaterExpiry_MovesTheIndexEntry()
    {
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord();
        await store.SaveAsync(record, CancellationToken.None);
        await store.SaveAsync(record with { ExpiresAt = record.ExpiresAt.AddDays(3) }, CancellationToken.None);

        var db = await _stores.InspectAsync();
        (await db.SortedSetScoreAsync(_stores.Prefix + "expiry", record.Key)).Should().Be(record.ExpiresAt.AddDays(3).ToUnixTimeMilliseconds());
        (await db.SortedSetLengthAsync(_stores.Prefix + "expiry")).Should().Be(1);
    }

    [Fact]
    public async Task Delete_RemovesTheRecordAndItsExpiryIndexEntry()
    {
        var store = _stores.StateStore();
        var kept = StoreConformance.NewRecord();
        var deleted = StoreConformance.NewRecord();
        await store.SaveAsync(kept, CancellationToken.None);
        await store.SaveAsync(deleted, CancellationToken.None);

        (await store.DeleteAsync(deleted.Key, 0, CancellationToken.None)).Should().BeTrue();

        var db = await _stores.InspectAsync();
        (await db.HashExistsAsync(_stores.Prefix + "upload:" + deleted.Key, "record")).Should().BeFalse();
        (await db.SortedSetScoreAsync(_stores.Prefix + "expiry", deleted.Key)).Should().BeNull();
        (await db.SortedSetScoreAsync(_stores.Prefix + "expiry", kept.Key)).Should().NotBeNull();
        (await db.HashExistsAsync(_stores.Prefix + "upload:" + kept.Key, "record")).Should().BeTrue();

        // What stays of the deleted record is its fencing token, and only for a while.
        (await db.KeyTimeToLiveAsync(_stores.Prefix + "upload:" + deleted.Key)).Should().BeCloseTo(RedisUploadStateStore.DeletedFenceRetention, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Save_AfterDelete_UnderAnOlderLease_IsRefused_AndUnderANewerOneHasNoTtl()
    {
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord() with { FencingToken = 10, Offset = 64 };
        await store.SaveAsync(record, CancellationToken.None);
        await store.SaveAsync(record with { FencingToken = 11 }, CancellationToken.None); // the deleting holder's tombstone
        (await store.DeleteAsync(record.Key, 11, CancellationToken.None)).Should().BeTrue();

        // The holder of token 10 was paused through all of that: it must not bring the upload back, neither by saving
        // nor by claiming, and cannot delete the tombstone either.
        var stale = async () => await store.SaveAsync(record, CancellationToken.None);
        await stale.Should().ThrowAsync<UploadLeaseLostException>();
        var staleClaim = async () => await store.ClaimAsync(record.Key, 10, CancellationToken.None);
        await staleClaim.Should().ThrowAsync<UploadLeaseLostException>();
        var staleDelete = async () => await store.DeleteAsync(record.Key, 10, CancellationToken.None);
        await staleDelete.Should().ThrowAsync<UploadLeaseLostException>();
        (await store.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
        (await store.DeleteAsync(record.Key, 11, CancellationToken.None)).Should().BeFalse();

        // A new upload under the same key (a newer lease) is a normal record again: no TTL.
        await store.SaveAsync(record with { FencingToken = 12, Offset = 0 }, CancellationToken.None);
        (await store.GetAsync(record.Key, CancellationToken.None))!.FencingToken.Should().Be(12);
        var db = await _stores.InspectAsync();
        (await db.KeyTimeToLiveAsync(_stores.Prefix + "upload:" + record.Key)).Should().BeNull();
    }

    [Fact]
    public async Task Claim_OfATombstone_TakesTheNewToken_KeepsItsTtl_AndRefusesTheSameTokenTwice()
    {
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord() with { FencingToken = 20 };
        await store.SaveAsync(record, CancellationToken.None);
        (await store.DeleteAsync(record.Key, 21, CancellationToken.None)).Should().BeTrue();

        (await store.ClaimAsync(record.Key, 22, CancellationToken.None)).Should().BeNull("a tombstone is no record");
        var db = await _stores.InspectAsync();
        var hash = _stores.Prefix + "upload:" + record.Key;
        (await db.HashGetAsync(hash, "fence")).ToString().Should().Be("22");
        (await db.KeyTimeToLiveAsync(hash)).Should().NotBeNull("a claimed tombstone still expires");
        var again = async () => await store.ClaimAsync(record.Key, 22, CancellationToken.None);
        await again.Should().ThrowAsync<UploadLeaseLostException>();

        // The claiming holder re-creates the upload: a record again, with no expiry.
        await store.SaveAsync(record with { FencingToken = 22, Offset = 0 }, CancellationToken.None);
        (await db.KeyTimeToLiveAsync(hash)).Should().BeNull();
    }

    [Fact]
    public async Task Claim_OfAKeyThatNeverHadARecord_LeavesNothingBehind()
    {
        var store = _stores.StateStore();
        var key = StoreConformance.NewKey();

        (await store.ClaimAsync(key, 5, CancellationToken.None)).Should().BeNull();

        var db = await _stores.InspectAsync();
        (await db.KeyExistsAsync(_stores.Prefix + "upload:" + key)).Should().BeFalse();
    }

    [Fact]
    public async Task Get_OfARecordThatIsNotValidJson_ReturnsNull_AndANewSaveReplacesIt()
    {
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord();
        var db = await _stores.InspectAsync();
        await db.HashSetAsync(_stores.Prefix + "upload:" + record.Key, [new("record", "{not json"), new("fence", "0")]);

        (await store.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
        await store.SaveAsync(record, CancellationToken.None);
        (await store.GetAsync(record.Key, CancellationToken.None))!.FileId.Should().Be(record.FileId);
    }

    [Fact]
    public async Task TwoKeyPrefixes_OnOneServer_DoNotSeeEachOther()
    {
        await using var other = new RedisTestStores(redis.Server);
        var mine = _stores.StateStore();
        var theirs = other.StateStore();
        var now = DateTimeOffset.UtcNow;
        var record = StoreConformance.NewRecord(now: now.AddDays(-2)) with { ExpiresAt = now.AddMinutes(-1) };
        await mine.SaveAsync(record with { FencingToken = 50 }, CancellationToken.None);

        (await theirs.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
        (await ListExpiredAsync(theirs, now)).Should().NotContain(record.Key);
        (await ListExpiredAsync(mine, now)).Should().Contain(record.Key);

        // Their fencing check and delete do not reach my record either.
        await theirs.SaveAsync(record with { FencingToken = 1, Offset = 7 }, CancellationToken.None);
        (await theirs.DeleteAsync(record.Key, 1, CancellationToken.None)).Should().BeTrue();
        (await theirs.DeleteAsync(record.Key, 1, CancellationToken.None)).Should().BeFalse();
        (await theirs.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
        var loaded = await mine.GetAsync(record.Key, CancellationToken.None);
        loaded!.FencingToken.Should().Be(50);
        loaded.Offset.Should().Be(0);
    }

    [Fact]
    public async Task GetExpired_ListsEveryExpiredRecord_AcrossSeveralPages()
    {
        var store = _stores.StateStore();
        var now = StoreConformance.Truncate(DateTimeOffset.UtcNow);
        var expired = Enumerable.Range(0, 600).Select(i => StoreConformance.NewRecord(now: now.AddDays(-2)) with { ExpiresAt = now.AddMinutes(-i) }).ToArray();
        await Parallel.ForEachAsync(expired, async (record, ct) => await store.SaveAsync(record, ct));

        var listed = await ListExpiredAsync(store, now);

        listed.Order(StringComparer.Ordinal).Should().Equal(expired.Select(r => r.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Save_WithMicrosecondScaleTokens_FencesByExactValue()
    {
        // Tokens are microsecond-scale numbers (about 1.8e15): well within the 2^53 a Lua number holds exactly.
        var store = _stores.StateStore();
        var record = StoreConformance.NewRecord() with { FencingToken = 1_800_000_000_000_001 };
        await store.SaveAsync(record, CancellationToken.None);

        var act = async () => await store.SaveAsync(record with { FencingToken = 1_800_000_000_000_000 }, CancellationToken.None);
        await act.Should().ThrowAsync<UploadLeaseLostException>().WithMessage("*1800000000000001*");
        await store.SaveAsync(record with { FencingToken = 1_800_000_000_000_002, Offset = 5 }, CancellationToken.None);
        (await store.GetAsync(record.Key, CancellationToken.None))!.Offset.Should().Be(5);
    }

    [Fact]
    public async Task StateCalls_WhileRedisIsDown_Throw_AndWorkAgainOnceItIsBack()
    {
        await using var server = await RedisServer.StartAsync();
        await using var stores = new RedisTestStores(server);
        var store = stores.StateStore();
        var record = StoreConformance.NewRecord();
        await store.SaveAsync(record, CancellationToken.None);

        await server.StopAsync();

        (await CaptureAsync(() => store.GetAsync(record.Key, CancellationToken.None).AsTask())).Should().Match<Exception>(e => e is RedisException || e is TimeoutException);
        (await CaptureAsync(() => store.SaveAsync(record, CancellationToken.None).AsTask())).Should().Match<Exception>(e => e is RedisException || e is TimeoutException);
        (await CaptureAsync(() => store.DeleteAsync(record.Key, 0, CancellationToken.None).AsTask())).Should().Match<Exception>(e => e is RedisException || e is TimeoutException);

        await server.StartAgainAsync();

        // The client reconnects by itself; this server kept no data (no persistence), so the record is gone.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                (await store.GetAsync(record.Key, CancellationToken.None)).Should().BeNull();
                break;
            }
            catch (Exception e) when ((e is RedisException or TimeoutException) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }

        await store.SaveAsync(record with { Offset = 42 }, CancellationToken.None);
        (await store.GetAsync(record.Key, CancellationToken.None))!.Offset.Should().Be(42);
    }

    internal static async Task<Exception> CaptureAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception e)
        {
            return e;
        }

        throw new Xunit.Sdk.XunitException("Expected the call to fail while Redis is down, and it succeeded.");
    }

    private static async Task<List<string>> ListExpiredAsync(RedisUploadStateStore store, DateTimeOffset now)
    {
        var keys = new List<string>();
        await foreach (var record in store.GetExpiredAsync(now, CancellationToken.None))
        {
            keys.Add(record.Key);
        }

        return keys;
    }
}
