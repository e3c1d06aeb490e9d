using ResumableUpload.Middleware.Storage;
using Xunit;

namespace ResumableUpload.Testing;

/// <summary>
/// The contract of <see cref="IUploadDataStore"/> the engine relies on: append at an offset, flush before the offset is
/// published, reopen at the last published offset after a crash (discarding what came after it), large and tiny parts,
/// concurrent uploads, delete. Derive from this class and return your store from <see cref="CreateStoreAsync"/>.
/// </summary>
/// <remarks>
/// The engine's order, which a store may rely on: it opens a writer at the published offset, writes, flushes, publishes
/// the flushed position, and only then writes more. So a writer is only ever reopened at the position of one of its
/// last two flushes (the one published, and the next if its publish was lost in a crash), at 0, or after an
/// operating-system crash at a position the store no longer fully holds.
/// </remarks>
public abstract class UploadDataStoreConformanceTests : ConformanceTestBase<IUploadDataStore>
{
    private const int MiB = 1024 * 1024;

    /// <summary>Creates a store. Instances made in one test share one backend, as app instances would.</summary>
    protected abstract ValueTask<IUploadDataStore> CreateStoreAsync();

    /// <summary>The size at which the store's internal parts or blocks roll over; the tests cross it. 5 MiB (the S3 minimum part) unless overridden.</summary>
    protected virtual int PartSize => 5 * MiB;

    /// <summary>
    /// How the store treats bytes that <see cref="IUploadDataStore.CompleteAsync"/> sealed when a writer is opened at a
    /// lower offset (the completion was never recorded). <see langword="false"/> (the default): the store can reopen
    /// them and truncates to the offset, as the filesystem store does. <see langword="true"/>: it keeps the sealed bytes
    /// and returns a writer positioned at their end (an object store whose finished object cannot be reopened).
    /// </summary>
    protected virtual bool KeepsSealedBytes => false;

    /// <summary>A store instance (remembered for disposal).</summary>
    protected Task<IUploadDataStore> StoreAsync() => TrackAsync(CreateStoreAsync);

    /// <summary>Opening an unknown key for reading returns null.</summary>
    [Fact]
    public async Task OpenRead_UnknownKey_ReturnsNull()
    {
        var store = await StoreAsync();
        Assert.Null(await store.OpenReadAsync(StoreConformance.NewKey(), CancellationToken.None));
    }

    /// <summary>A new upload's writer starts at 0.</summary>
    [Fact]
    public async Task OpenWriter_NewKey_StartsAtZero()
    {
        var store = await StoreAsync();
        await using var writer = await store.OpenWriterAsync(StoreConformance.NewKey(), 0, 1000, 1, CancellationToken.None);
        Assert.Equal(0, writer.Position);
    }

    /// <summary>One writer with chunk sizes from 1 byte to 1 MiB, flushing every MiB, across several part sizes, stores exactly what was written.</summary>
    [Fact]
    public async Task Write_ChunksOfEverySize_AcrossPartBoundaries_StoresExactBytes()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes((2 * PartSize) + (PartSize / 3) + 7, seed: 1);

        await using (var writer = await store.OpenWriterAsync(key, 0, expected.Length, 1, CancellationToken.None))
        {
            var random = new Random(2);
            var sinceFlush = 0L;
            while (writer.Position < expected.Length)
            {
                var size = (int)Math.Min(random.Next(4) switch { 0 => 1, 1 => random.Next(2, 4096), 2 => random.Next(4096, 65536), _ => random.Next(65536, MiB) }, expected.Length - writer.Position);
                var start = writer.Position;
                await writer.WriteAsync(expected.AsMemory((int)start, size), CancellationToken.None);
                Assert.Equal(start + size, writer.Position);
                sinceFlush += size;
                if (sinceFlush >= MiB)
                {
                    await writer.FlushAsync(toDisk: false, CancellationToken.None);
                    sinceFlush = 0;
                }
            }

            await writer.FlushAsync(toDisk: true, CancellationToken.None);
        }

        await store.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>Many requests of a few bytes each (each its own writer, as tiny PATCH requests are) add up to the whole.</summary>
    [Fact]
    public async Task Write_ManyTinyRequests_EachReopeningAtTheOffset_StoresExactBytes()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes(4000, seed: 3);
        var random = new Random(4);
        var offset = 0;
        while (offset < expected.Length)
        {
            var size = Math.Min(random.Next(1, 120), expected.Length - offset);
            await using var writer = await store.OpenWriterAsync(key, offset, expected.Length, 1, CancellationToken.None);
            Assert.Equal(offset, writer.Position);
            await writer.WriteAsync(expected.AsMemory(offset, size), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
            offset += size;
        }

        await store.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>An upload begun through one instance continues through another (a restart, or another app instance).</summary>
    [Fact]
    public async Task Resume_OnAnotherInstance_ContinuesAtTheOffset()
    {
        var first = await StoreAsync();
        var second = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes(PartSize + (PartSize / 2), seed: 5);
        var split = PartSize + 12345;

        await using (var writer = await first.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, expected.AsMemory(0, split));
        }

        await using (var writer = await second.OpenWriterAsync(key, split, null, 1, CancellationToken.None))
        {
            Assert.Equal(split, writer.Position);
            await WriteInChunksAsync(writer, expected.AsMemory(split));
        }

        await second.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await first.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>
    /// A writer that died after its last flush but before that flush's position was published: reopened at the previous
    /// flush (the published offset), on another instance, the store discards what came after it.
    /// </summary>
    [Theory]
    [InlineData(1)] // the lost flush crossed no part boundary
    [InlineData(2)] // the lost flush completed a part
    public async Task Reopen_AtThePreviousFlush_AfterACrash_DiscardsTheUnpublishedBytes(int lostFlushParts)
    {
        var crashed = await StoreAsync();
        var key = StoreConformance.NewKey();
        var original = StoreConformance.Bytes(3 * PartSize, seed: 6);
        var published = PartSize - 4096;
        var flushedAfter = lostFlushParts == 1 ? published + 2048 : PartSize + 8192;

        var writer = await crashed.OpenWriterAsync(key, 0, original.Length, 1, CancellationToken.None);
        await WriteInChunksAsync(writer, original.AsMemory(0, published), dispose: false);
        await writer.WriteAsync(original.AsMemory(published, flushedAfter - published), CancellationToken.None);
        await writer.FlushAsync(toDisk: false, CancellationToken.None);
        await AbandonAsync(writer); // the process dies: no dispose, no more calls

        var replacement = StoreConformance.Bytes(original.Length - published, seed: 7);
        var restarted = await StoreAsync();
        await using (var resumed = await restarted.OpenWriterAsync(key, published, original.Length, 1, CancellationToken.None))
        {
            Assert.Equal(published, resumed.Position);
            await WriteInChunksAsync(resumed, replacement);
        }

        await restarted.CompleteAsync(key, original.Length, 1, CancellationToken.None);
        var expected = original.AsSpan(0, published).ToArray().Concat(replacement).ToArray();
        var actual = await StoreConformance.ReadAllAsync(await restarted.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>Reopened at its last flush after a crash, the writer continues there and nothing flushed is lost.</summary>
    [Fact]
    public async Task Reopen_AtTheLastFlush_AfterACrash_KeepsEveryFlushedByte()
    {
        var crashed = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes((2 * PartSize) + 999, seed: 8);
        var flushed = PartSize + 4321;

        var writer = await crashed.OpenWriterAsync(key, 0, expected.Length, 1, CancellationToken.None);
        await WriteInChunksAsync(writer, expected.AsMemory(0, flushed), dispose: false);
        await writer.WriteAsync(StoreConformance.Bytes(5000, seed: 9), CancellationToken.None); // never flushed
        await AbandonAsync(writer);

        var restarted = await StoreAsync();
        await using (var resumed = await restarted.OpenWriterAsync(key, flushed, expected.Length, 1, CancellationToken.None))
        {
            Assert.Equal(flushed, resumed.Position);
            await WriteInChunksAsync(resumed, expected.AsMemory(flushed));
        }

        await restarted.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await restarted.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>Asked to continue at more bytes than it holds, a store positions the writer at what it holds.</summary>
    [Fact]
    public async Task OpenWriter_BeyondTheHeldBytes_PositionsAtTheHeldBytes()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(StoreConformance.Bytes(1000, seed: 10), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await using var reopened = await store.OpenWriterAsync(key, 5000, null, 1, CancellationToken.None);
        Assert.Equal(1000, reopened.Position);
    }

    /// <summary>Opening at 0 starts the upload afresh: the earlier bytes are gone.</summary>
    [Fact]
    public async Task OpenWriter_AtZero_AfterBytes_StartsAfresh()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, StoreConformance.Bytes(PartSize + 100, seed: 11), dispose: false);
        }

        var expected = StoreConformance.Bytes(3000, seed: 12);
        await using (var writer = await store.OpenWriterAsync(key, 0, expected.Length, 1, CancellationToken.None))
        {
            Assert.Equal(0, writer.Position);
            await WriteInChunksAsync(writer, expected, dispose: false);
        }

        await store.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>An upload of zero bytes completes and reads back empty.</summary>
    [Fact]
    public async Task Complete_ZeroBytes_ReadsBackEmpty()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, 0, 1, CancellationToken.None))
        {
            await writer.FlushAsync(toDisk: true, CancellationToken.None);
        }

        await store.CompleteAsync(key, 0, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.NotNull(actual);
        Assert.Empty(actual);
    }

    /// <summary>Delete removes the bytes; deleting again (or an unknown key) is not an error; the key starts afresh.</summary>
    [Fact]
    public async Task Delete_RemovesTheBytes_AndIsIdempotent()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(PartSize + 10, seed: 13);
        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, bytes, dispose: false);
        }

        await store.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);

        await store.DeleteAsync(key, CancellationToken.None);
        Assert.Null(await store.OpenReadAsync(key, CancellationToken.None));
        await store.DeleteAsync(key, CancellationToken.None);
        await store.DeleteAsync(StoreConformance.NewKey(), CancellationToken.None);

        await using var fresh = await store.OpenWriterAsync(key, bytes.Length, null, 1, CancellationToken.None);
        Assert.Equal(0, fresh.Position);
    }

    /// <summary>Delete also removes an unfinished upload's bytes (what expiry does).</summary>
    [Fact]
    public async Task Delete_UnfinishedUpload_RemovesItsBytes()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, StoreConformance.Bytes(PartSize + 10, seed: 14), dispose: false);
        }

        await store.DeleteAsync(key, CancellationToken.None);

        var other = await StoreAsync();
        await using var reopened = await other.OpenWriterAsync(key, PartSize + 10, null, 1, CancellationToken.None);
        Assert.Equal(0, reopened.Position);
    }

    /// <summary>Uploads written at the same time (through two instances) do not mix.</summary>
    [Fact]
    public async Task Write_ConcurrentUploads_KeepTheirOwnBytes()
    {
        var stores = new[] { await StoreAsync(), await StoreAsync() };
        var uploads = Enumerable.Range(0, 8).Select(i => (Key: StoreConformance.NewKey(), Bytes: StoreConformance.Bytes((MiB / 2) + (i * 1000), seed: 100 + i))).ToArray();

        await Parallel.ForEachAsync(Enumerable.Range(0, uploads.Length), new ParallelOptions { MaxDegreeOfParallelism = uploads.Length }, async (i, ct) =>
        {
            var store = stores[i % 2];
            await using (var writer = await store.OpenWriterAsync(uploads[i].Key, 0, uploads[i].Bytes.Length, 1, ct))
            {
                await WriteInChunksAsync(writer, uploads[i].Bytes, dispose: false, chunk: 16 * 1024);
            }

            await store.CompleteAsync(uploads[i].Key, uploads[i].Bytes.Length, 1, ct);
        });

        foreach (var (key, bytes) in uploads)
        {
            var actual = await StoreConformance.ReadAllAsync(await stores[0].OpenReadAsync(key, CancellationToken.None));
            Assert.True(bytes.AsSpan().SequenceEqual(actual), StoreConformance.Describe(bytes, actual));
        }
    }

    /// <summary>A store that can concatenate writes the parts' bytes, in order, as the target's.</summary>
    [Fact]
    public async Task Concatenate_WhenSupported_JoinsThePartsInOrder()
    {
        var store = await StoreAsync();
        var parts = new[] { StoreConformance.Bytes(PartSize + 1, seed: 20), StoreConformance.Bytes(10, seed: 21), StoreConformance.Bytes(0, seed: 22), StoreConformance.Bytes(70_000, seed: 23) };
        var keys = new List<string>();
        foreach (var part in parts)
        {
            var key = StoreConformance.NewKey();
            await using (var writer = await store.OpenWriterAsync(key, 0, part.Length, 1, CancellationToken.None))
            {
                await WriteInChunksAsync(writer, part, dispose: false);
            }

            await store.CompleteAsync(key, part.Length, 1, CancellationToken.None);
            keys.Add(key);
        }

        if (store is not IUploadDataConcatenation concatenation)
        {
            // Without the capability the tus concatenation extension is simply not offered; the parts stay readable.
            var first = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(keys[0], CancellationToken.None));
            Assert.True(parts[0].AsSpan().SequenceEqual(first), StoreConformance.Describe(parts[0], first));
            return;
        }

        var target = StoreConformance.NewKey();
        var expected = parts.SelectMany(p => p).ToArray();
        await concatenation.ConcatenateAsync(target, keys, CancellationToken.None);
        await store.CompleteAsync(target, expected.Length, 1, CancellationToken.None);

        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(target, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
        var stillThere = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(keys[1], CancellationToken.None));
        Assert.Equal(parts[1], stillThere);
    }

    /// <summary>Completing twice (the completion was not recorded, so the engine completes again, under a newer lease) changes nothing.</summary>
    [Fact]
    public async Task Complete_Twice_IsIdempotent()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes(PartSize + 777, seed: 21);
        await using (var writer = await store.OpenWriterAsync(key, 0, expected.Length, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, expected);
        }

        await store.CompleteAsync(key, expected.Length, 1, CancellationToken.None);
        await (await StoreAsync()).CompleteAsync(key, expected.Length, 2, CancellationToken.None);

        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>
    /// Bytes completed whose completion was never recorded (the state store failed right after), reopened at the last
    /// published offset by a newer lease: a store that can reopen them truncates to the offset and takes the rest again;
    /// a store that keeps sealed bytes returns a writer at their end, and they stay readable and completable. Either
    /// way the upload ends with the file's bytes.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task OpenWriter_AfterAnUnrecordedCompletion_KeepsTheSealedBytesOrTruncates(int partsBeforePublish)
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var expected = StoreConformance.Bytes((2 * PartSize) + 4099, seed: 22);
        var published = Math.Min(expected.Length - 1, (partsBeforePublish * PartSize) / 2);
        await using (var writer = await store.OpenWriterAsync(key, 0, expected.Length, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, expected.AsMemory(0, published));
            await WriteInChunksAsync(writer, expected.AsMemory(published));
        }

        await store.CompleteAsync(key, expected.Length, 1, CancellationToken.None);

        var other = await StoreAsync();
        await using (var reopened = await other.OpenWriterAsync(key, published, expected.Length, 2, CancellationToken.None))
        {
            if (KeepsSealedBytes)
            {
                Assert.Equal(expected.Length, reopened.Position);
            }
            else
            {
                Assert.Equal(published, reopened.Position);
                await WriteInChunksAsync(reopened, expected.AsMemory(published));
            }
        }

        var sealedBytes = await StoreConformance.ReadAllAsync(await other.OpenReadAsync(key, CancellationToken.None));
        if (KeepsSealedBytes)
        {
            Assert.True(expected.AsSpan().SequenceEqual(sealedBytes), "the sealed bytes must stay readable: " + StoreConformance.Describe(expected, sealedBytes));
        }

        await other.CompleteAsync(key, expected.Length, 2, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>A completed upload opened at 0 (the client starts over) starts afresh, also on a store that keeps sealed bytes.</summary>
    [Fact]
    public async Task OpenWriter_AtZero_AfterCompletion_StartsAfresh()
    {
        var store = await StoreAsync();
        var key = StoreConformance.NewKey();
        var first = StoreConformance.Bytes(1500, seed: 23);
        await using (var writer = await store.OpenWriterAsync(key, 0, first.Length, 1, CancellationToken.None))
        {
            await WriteInChunksAsync(writer, first);
        }

        await store.CompleteAsync(key, first.Length, 1, CancellationToken.None);

        var expected = StoreConformance.Bytes(900, seed: 24);
        await using (var writer = await store.OpenWriterAsync(key, 0, expected.Length, 2, CancellationToken.None))
        {
            Assert.Equal(0, writer.Position);
            await WriteInChunksAsync(writer, expected);
        }

        await store.CompleteAsync(key, expected.Length, 2, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        Assert.True(expected.AsSpan().SequenceEqual(actual), StoreConformance.Describe(expected, actual));
    }

    /// <summary>
    /// Simulates the death of the process that owned <paramref name="writer"/>: by default nothing is called on it again
    /// (it is never disposed). Override to release what a dead process would have released (for example a file handle)
    /// without flushing anything.
    /// </summary>
    protected virtual ValueTask AbandonAsync(IUploadDataWriter writer) => ValueTask.CompletedTask;

    /// <summary>Writes <paramref name="bytes"/> in chunks, flushing after each MiB and at the end, as the engine does.</summary>
    protected static async Task WriteInChunksAsync(IUploadDataWriter writer, ReadOnlyMemory<byte> bytes, bool dispose = false, int chunk = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var sinceFlush = 0;
        for (var offset = 0; offset < bytes.Length; offset += chunk)
        {
            var slice = bytes.Slice(offset, Math.Min(chunk, bytes.Length - offset));
            await writer.WriteAsync(slice, CancellationToken.None);
            sinceFlush += slice.Length;
            if (sinceFlush >= MiB)
            {
                await writer.FlushAsync(toDisk: false, CancellationToken.None);
                sinceFlush = 0;
            }
        }

        await writer.FlushAsync(toDisk: false, CancellationToken.None);
        if (dispose)
        {
            await writer.DisposeAsync();
        }
    }
}
