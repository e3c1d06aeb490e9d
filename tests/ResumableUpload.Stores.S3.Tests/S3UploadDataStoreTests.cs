using Amazon.S3;
using Amazon.S3.Model;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.S3.Tests;

// What the S3 store leaves in the bucket (parts, tails, markers, multipart uploads), looked at with a raw S3 client.
[Collection(SwiftServerGroup.Name)]
public sealed class S3UploadDataStoreTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly SwiftFixture _swift;
    private readonly List<IDisposable> _disposables = [];
    private string _bucket = string.Empty;
    private IAmazonS3 _raw = null!;

    public S3UploadDataStoreTests(SwiftFixture swift) => _swift = swift;

    public async Task InitializeAsync()
    {
        _bucket = await _swift.NewBucketAsync();
        _raw = _swift.RawClient(_bucket);
        _disposables.Add(_raw);
    }

    public Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task Write_12MiBThrough1MiBFlushes_Makes5MiBParts_ThenASmallLastPart()
    {
        var store = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(12 * MiB, seed: 1);

        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 1, CancellationToken.None))
        {
            await WriteAsync(writer, bytes, flushEvery: MiB);
        }

        var uploadId = await MarkerUploadIdAsync(store, key);
        var parts = await _raw.ListPartsAsync(new ListPartsRequest { BucketName = _bucket, Key = store.ObjectKey(key), UploadId = uploadId });
        parts.Parts.Select(p => (p.PartNumber, p.Size)).Should().Equal((1, 5L * MiB), (2, 5L * MiB));
        var tails = await WorkObjectsAsync(store, key);
        var lastTail = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{store.WorkPrefix(key)}tail-{10L * MiB:D20}-{12L * MiB:D20}-");
        tails.Should().Contain(t => t.StartsWith(lastTail, StringComparison.Ordinal), "the last flush's tail holds the bytes after the last part");
        tails.Where(t => t.Contains("/tail-", StringComparison.Ordinal)).Should().HaveCount(2, "the tails of the last two flushes are kept, older ones deleted");

        await store.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);

        (await ReadAsync(store, key)).Should().Equal(bytes);
        (await WorkObjectsAsync(store, key)).Should().Equal([store.FenceKey(key, 1)], "completion removes the tails and the marker; the lease's fence stays until the upload is deleted");
        (await MultipartUploadsAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task OpenWriter_AfterTheMultipartUploadWasCompleted_KeepsTheFinishedObject_AndIsSealedAtItsLength()
    {
        // Issue #11: CompleteAsync ran, the completing save did not (state store down, lease lost). The client resumes
        // from the last published offset: the finished object must stay, not be taken for "nothing held".
        var store = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes((11 * MiB) + 17, seed: 30);
        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 5, CancellationToken.None))
        {
            await WriteAsync(writer, bytes, flushEvery: MiB);
        }

        await store.CompleteAsync(key, bytes.Length, 5, CancellationToken.None);
        (await WorkObjectsAsync(store, key)).Should().NotContain(k => k.Contains("/tail-", StringComparison.Ordinal));

        await using (var reopened = await Store().OpenWriterAsync(key, 9 * MiB, bytes.Length, 6, CancellationToken.None))
        {
            reopened.Position.Should().Be(bytes.Length);
            await FluentActions.Awaiting(async () => await reopened.WriteAsync(new byte[1], CancellationToken.None)).Should().ThrowAsync<InvalidOperationException>();
        }

        (await ReadAsync(store, key)).Should().Equal(bytes);
        await store.CompleteAsync(key, bytes.Length, 6, CancellationToken.None); // the engine records the completion: idempotent
        (await ReadAsync(store, key)).Should().Equal(bytes);
        (await WorkObjectsAsync(store, key)).Should().Equal([store.FenceKey(key, 6)]);
    }

    [Fact]
    public async Task StaleWriter_AfterANewerLeaseReopenedTheUpload_CanNeitherCompleteNorStartOver()
    {
        var stale = Store();
        var newer = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes((6 * MiB) + 100, seed: 31);
        var published = 3 * MiB;
        var staleWriter = await stale.OpenWriterAsync(key, 0, bytes.Length, 5, CancellationToken.None);
        await WriteAsync(staleWriter, bytes.AsMemory(0, published), flushEvery: MiB);

        // The holder of token 5 pauses; token 7 takes over at the published offset and writes to the end.
        await using (var writer = await newer.OpenWriterAsync(key, published, bytes.Length, 7, CancellationToken.None))
        {
            writer.Position.Should().Be(published);
            await WriteAsync(writer, bytes.AsMemory(published), flushEvery: MiB);
        }

        // Token 5 wakes up: its completion, and a start from 0 (which would delete token 7's bytes), are refused.
        await FluentActions.Awaiting(async () => await stale.CompleteAsync(key, bytes.Length, 5, CancellationToken.None)).Should().ThrowAsync<UploadLeaseLostException>();
        await FluentActions.Awaiting(async () => await stale.OpenWriterAsync(key, 0, bytes.Length, 5, CancellationToken.None)).Should().ThrowAsync<UploadLeaseLostException>();
        await staleWriter.DisposeAsync();

        await newer.CompleteAsync(key, bytes.Length, 7, CancellationToken.None);
        (await ReadAsync(newer, key)).Should().Equal(bytes);

        // Also after completion (the fence stays with the finished object), a start from 0 under token 5 is refused.
        await FluentActions.Awaiting(async () => await stale.OpenWriterAsync(key, 0, bytes.Length, 5, CancellationToken.None)).Should().ThrowAsync<UploadLeaseLostException>();
        (await ReadAsync(newer, key)).Should().Equal(bytes);
    }

    [Fact]
    public async Task Reopen_UnderANewerLease_PrefersItsTail_AndNamesNewTailsWithItsToken()
    {
        var store = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(3 * MiB, seed: 32);
        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 3, CancellationToken.None))
        {
            await WriteAsync(writer, bytes.AsMemory(0, 2 * MiB), flushEvery: MiB);
        }

        await using (var writer = await store.OpenWriterAsync(key, 2 * MiB, bytes.Length, 4, CancellationToken.None))
        {
            await WriteAsync(writer, bytes.AsMemory(2 * MiB), flushEvery: MiB);
        }

        var tokenSuffix = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"-{4L:D20}");
        (await WorkObjectsAsync(store, key)).Should().Contain(k => k.Contains("/tail-", StringComparison.Ordinal) && k.EndsWith(tokenSuffix, StringComparison.Ordinal))
            .And.Contain(store.FenceKey(key, 4)).And.NotContain(store.FenceKey(key, 3));
        await store.CompleteAsync(key, bytes.Length, 4, CancellationToken.None);
        (await ReadAsync(store, key)).Should().Equal(bytes);
    }

    [Fact]
    public async Task Reopen_AtThePreviousFlush_AfterAPartWasUploaded_TwiceOnOtherInstances_GivesTheRightBytes()
    {
        var key = StoreConformance.NewKey();
        var length = 14 * MiB;
        var published = (4 * MiB) + 12345;

        // Instance 1 flushes at `published` (and publishes), then writes past 5 MiB (a part goes up) and flushes again,
        // then dies before publishing that flush.
        var first = Store();
        var original = StoreConformance.Bytes(length, seed: 2);
        var crashed = await first.OpenWriterAsync(key, 0, length, 1, CancellationToken.None);
        await WriteAsync(crashed, original.AsMemory(0, published), flushEvery: MiB);
        await crashed.WriteAsync(original.AsMemory(published, 2 * MiB), CancellationToken.None);
        await crashed.FlushAsync(false, CancellationToken.None);

        // Instance 2 reopens at the published offset, writes other bytes across a part boundary, flushes, and dies too.
        var second = Store();
        var replacement = StoreConformance.Bytes(length, seed: 3);
        var again = await second.OpenWriterAsync(key, published, length, 1, CancellationToken.None);
        again.Position.Should().Be(published);
        await again.WriteAsync(replacement.AsMemory(published, 3 * MiB), CancellationToken.None);
        await again.FlushAsync(false, CancellationToken.None);

        // Instance 3 reopens at the same published offset once more and finishes.
        var third = Store();
        await using (var writer = await third.OpenWriterAsync(key, published, length, 1, CancellationToken.None))
        {
            writer.Position.Should().Be(published);
            await WriteAsync(writer, replacement.AsMemory(published), flushEvery: MiB);
        }

        await third.CompleteAsync(key, length, 1, CancellationToken.None);
        var expected = original.AsSpan(0, published).ToArray().Concat(replacement.AsSpan(published).ToArray()).ToArray();
        var actual = await ReadAsync(first, key);
        actual.AsSpan().SequenceEqual(expected).Should().BeTrue(StoreConformance.Describe(expected, actual));
    }

    [Fact]
    public async Task Reopen_AtTheLastFlush_InsideATail_OnAnotherInstance_ContinuesThere()
    {
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes((7 * MiB) + 3, seed: 4);
        var flushed = (6 * MiB) + 777;
        var first = Store();
        var crashed = await first.OpenWriterAsync(key, 0, null, 1, CancellationToken.None);
        await WriteAsync(crashed, bytes.AsMemory(0, flushed), flushEvery: MiB);

        var second = Store();
        await using (var writer = await second.OpenWriterAsync(key, flushed, null, 1, CancellationToken.None))
        {
            writer.Position.Should().Be(flushed);
            await WriteAsync(writer, bytes.AsMemory(flushed), flushEvery: MiB);
        }

        await second.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);
        (await ReadAsync(first, key)).Should().Equal(bytes);
    }

    [Fact]
    public async Task Reopen_AfterAPartWasOverwritten_NeverJoinsATailToPartsItDidNotFollow()
    {
        var key = StoreConformance.NewKey();
        var store = Store();
        var crashed = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None);
        await WriteAsync(crashed, StoreConformance.Bytes(6 * MiB, seed: 12), flushEvery: MiB);

        // Another writer (one that lost its lease and did not notice yet) puts other bytes in part 1.
        var uploadId = await MarkerUploadIdAsync(store, key);
        using (var other = new MemoryStream(StoreConformance.Bytes(5 * MiB, seed: 13)))
        {
            await _raw.UploadPartAsync(new UploadPartRequest { BucketName = _bucket, Key = store.ObjectKey(key), UploadId = uploadId, PartNumber = 1, InputStream = other, UseChunkEncoding = false });
        }

        await using var reopened = await Store().OpenWriterAsync(key, 6 * MiB, null, 1, CancellationToken.None);

        reopened.Position.Should().Be(0, "the tails follow the part 1 that was replaced, so the store holds no consistent bytes past 0");
    }

    [Fact]
    public async Task Delete_UnfinishedUpload_LeavesNoMultipartUpload_AndNoTailObjects()
    {
        var store = Store();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await WriteAsync(writer, StoreConformance.Bytes((6 * MiB) + 100, seed: 5), flushEvery: MiB);
        }

        (await MultipartUploadsAsync()).Should().ContainSingle("the first part started a multipart upload");
        (await WorkObjectsAsync(store, key)).Should().NotBeEmpty();

        await store.DeleteAsync(key, CancellationToken.None);

        (await MultipartUploadsAsync()).Should().BeEmpty();
        (await AllObjectsAsync(prefix: "uploads/")).Should().BeEmpty();
    }

    [Fact]
    public async Task Delete_AbortsAMultipartUploadWhoseIdNeverReachedTheMarker()
    {
        var store = Store();
        var key = StoreConformance.NewKey();

        // A process that died right after creating the multipart upload, before writing the marker.
        await _raw.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = store.ObjectKey(key) });
        (await MultipartUploadsAsync()).Should().ContainSingle();

        await store.DeleteAsync(key, CancellationToken.None);

        (await MultipartUploadsAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task KeyPrefix_TwoStoresInOneBucket_DoNotSeeEachOthersBytes()
    {
        var a = Store(keyPrefix: "app-a/");
        var b = Store(keyPrefix: "app-b/");
        var key = StoreConformance.NewKey();
        var bytesA = StoreConformance.Bytes(3000, seed: 6);
        var bytesB = StoreConformance.Bytes(5000, seed: 7);

        await CompleteUploadAsync(a, key, bytesA);
        (await b.OpenReadAsync(key, CancellationToken.None)).Should().BeNull();
        await using (var writer = await b.OpenWriterAsync(key, bytesA.Length, null, 1, CancellationToken.None))
        {
            writer.Position.Should().Be(0, "store b holds nothing for the key");
        }

        await CompleteUploadAsync(b, key, bytesB);
        (await ReadAsync(a, key)).Should().Equal(bytesA);
        (await ReadAsync(b, key)).Should().Equal(bytesB);

        await b.DeleteAsync(key, CancellationToken.None);
        (await ReadAsync(a, key)).Should().Equal(bytesA);
        (await AllObjectsAsync(prefix: string.Empty)).Should().OnlyContain(k => k.StartsWith("app-a/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenRead_IsSeekable_AndReadsRangesFromTheMiddle()
    {
        var store = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes((5 * MiB) + 4321, seed: 8);
        await CompleteUploadAsync(store, key, bytes);

        await using var stream = await store.OpenReadAsync(key, CancellationToken.None);
        stream.Should().NotBeNull();
        stream!.CanSeek.Should().BeTrue();
        stream.Length.Should().Be(bytes.Length);
        stream.Seek((5 * MiB) - 10, SeekOrigin.Begin);
        var slice = new byte[100];
        await stream.ReadExactlyAsync(slice);
        slice.Should().Equal(bytes.AsSpan((5 * MiB) - 10, 100).ToArray());
        stream.Position = 3;
        var start = new byte[10];
        await stream.ReadExactlyAsync(start);
        start.Should().Equal(bytes.AsSpan(3, 10).ToArray());
    }

    [Fact]
    public async Task Complete_CalledAgainAfterItSucceeded_KeepsTheObject()
    {
        var store = Store();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes((5 * MiB) + 10, seed: 9);
        await CompleteUploadAsync(store, key, bytes);

        await store.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);

        (await ReadAsync(store, key)).Should().Equal(bytes);
    }

    [Fact]
    public async Task Concatenate_SmallThenLargeThenSmallSources_CopiesWhatItCan_AndJoinsTheBytesInOrder()
    {
        var store = Store();
        var sources = new[] { StoreConformance.Bytes(10, seed: 20), StoreConformance.Bytes((11 * MiB) + 5, seed: 21), StoreConformance.Bytes(3 * MiB, seed: 22) };
        var keys = new List<string>();
        foreach (var bytes in sources)
        {
            var key = StoreConformance.NewKey();
            await CompleteUploadAsync(store, key, bytes);
            keys.Add(key);
        }

        var target = StoreConformance.NewKey();
        var expected = sources.SelectMany(b => b).ToArray();
        await store.ConcatenateAsync(target, keys, CancellationToken.None);
        await store.CompleteAsync(target, expected.Length, 1, CancellationToken.None);

        var actual = await ReadAsync(store, target);
        actual.AsSpan().SequenceEqual(expected).Should().BeTrue(StoreConformance.Describe(expected, actual));
        (await ReadAsync(store, keys[1])).Should().Equal(sources[1], "the sources stay as they are");
        (await WorkObjectsAsync(store, target)).Should().BeEmpty();
        (await MultipartUploadsAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task Operations_AgainstAServerThatIsDown_Throw()
    {
        var options = _swift.Options(_bucket);
        options.ServiceUrl = $"http://127.0.0.1:{ResumableUpload.Testing.Shared.Backends.ServerProcess.FreePort()}";
        var store = Store(options);
        var key = StoreConformance.NewKey();

        await FluentActions.Awaiting(async () => await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None)).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(async () => await store.OpenWriterAsync(key, 100, null, 1, CancellationToken.None)).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(async () => await store.OpenReadAsync(key, CancellationToken.None)).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(async () => await store.CompleteAsync(key, 10, 1, CancellationToken.None)).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(async () => await store.DeleteAsync(key, CancellationToken.None)).Should().ThrowAsync<Exception>();
    }

    [Fact]
    public async Task Write_AfterTheServerWentDown_ThrowsFromFlush()
    {
        // A store of its own Swift, stopped in the middle of an upload.
        var server = await ResumableUpload.Testing.Shared.Backends.SwiftS3Server.StartAsync();
        IUploadDataWriter writer;
        S3UploadDataStore store;
        try
        {
            var bucket = ResumableUpload.Testing.Shared.Backends.SwiftS3Server.NewBucketName();
            await server.CreateBucketAsync(bucket);
            var options = _swift.Options(bucket);
            options.ServiceUrl = server.ServiceUrl;
            store = Store(options);
            writer = await store.OpenWriterAsync(StoreConformance.NewKey(), 0, null, 1, CancellationToken.None);
            await writer.WriteAsync(StoreConformance.Bytes(1000, seed: 10), CancellationToken.None);
            await writer.FlushAsync(false, CancellationToken.None);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await writer.WriteAsync(StoreConformance.Bytes(1000, seed: 11), CancellationToken.None);
        await FluentActions.Awaiting(async () => await writer.FlushAsync(false, CancellationToken.None)).Should().ThrowAsync<Exception>();
        await writer.DisposeAsync();
    }

    private S3UploadDataStore Store(string keyPrefix = "uploads/") => Store(_swift.Options(_bucket, keyPrefix));

    private S3UploadDataStore Store(S3UploadStoreOptions options)
    {
        var client = SwiftFixture.Client(options);
        _disposables.Add(client);
        return new S3UploadDataStore(client);
    }

    private static async Task WriteAsync(IUploadDataWriter writer, ReadOnlyMemory<byte> bytes, int flushEvery)
    {
        const int Chunk = 64 * 1024;
        var sinceFlush = 0;
        for (var offset = 0; offset < bytes.Length; offset += Chunk)
        {
            var slice = bytes.Slice(offset, Math.Min(Chunk, bytes.Length - offset));
            await writer.WriteAsync(slice, CancellationToken.None);
            sinceFlush += slice.Length;
            if (sinceFlush >= flushEvery)
            {
                await writer.FlushAsync(false, CancellationToken.None);
                sinceFlush = 0;
            }
        }

        await writer.FlushAsync(false, CancellationToken.None);
    }

    private static async Task CompleteUploadAsync(S3UploadDataStore store, string key, byte[] bytes)
    {
        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 1, CancellationToken.None))
        {
            await WriteAsync(writer, bytes, flushEvery: MiB);
        }

        await store.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);
    }

    private static async Task<byte[]?> ReadAsync(S3UploadDataStore store, string key)
        => await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));

    private async Task<string> MarkerUploadIdAsync(S3UploadDataStore store, string key)
    {
        using var response = await _raw.GetObjectAsync(_bucket, store.WorkPrefix(key) + "upload");
        using var reader = new StreamReader(response.ResponseStream);
        return (await reader.ReadToEndAsync()).Trim();
    }

    private Task<List<string>> WorkObjectsAsync(S3UploadDataStore store, string key) => AllObjectsAsync(store.WorkPrefix(key));

    private async Task<List<string>> AllObjectsAsync(string prefix)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await _raw.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    private async Task<List<string>> MultipartUploadsAsync()
    {
        var response = await _raw.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = _bucket });
        return (response.MultipartUploads ?? []).Select(u => u.Key + " " + u.UploadId).ToList();
    }
}
