using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Time.Testing;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>What the store leaves in the Blob service, checked against the real Azurite.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class AzureBlobUploadDataStoreTests(AzuriteFixture azurite)
{
    private const int KiB = 1024;

    [Fact]
    public async Task Flush_StagesTheBytesSinceTheLastFlush_AsBlocksNamedByOffsetAndLength()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var store = AzuriteFixture.CreateStore(options);
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(10_000 + (100 * KiB) + 1, seed: 1);

        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(bytes.AsMemory(0, 10_000), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
            await writer.WriteAsync(bytes.AsMemory(10_000, 100 * KiB), CancellationToken.None); // crosses the 64 KiB buffer
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
            await writer.WriteAsync(bytes.AsMemory(10_000 + (100 * KiB), 1), CancellationToken.None);
            await writer.FlushAsync(toDisk: true, CancellationToken.None);
        }

        var list = await BlockListAsync(store, key);
        list.CommittedBlocks.Should().BeEmpty("nothing is committed before the upload completes");
        list.UncommittedBlocks.Select(b => b.Name.Length).Distinct().Should().ContainSingle();
        var blocks = list.UncommittedBlocks.Select(Decode).OrderBy(b => b.Start).ToList();
        blocks.Select(b => (b.Start, b.Length)).Should().Equal(
            (0L, 10_000L),
            (10_000L, 64L * KiB),
            (10_000L + (64 * KiB), 36L * KiB),
            (10_000L + (100 * KiB), 1L));
        blocks.Select(b => (b.Generation, b.OpenedAt, b.Nonce)).Distinct().Should().ContainSingle("one writer staged them all");
        list.UncommittedBlocks.Should().OnlyContain(b => b.SizeLong == Decode(b).Length);

        (await ListAsync(store.Container, options.BlobPrefix)).Should().BeEmpty("an unfinished upload is not a blob yet");
        (await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None))).Should().BeNull();
    }

    [Fact]
    public async Task Reopen_AtThePreviousFlush_OnASecondInstance_GivesTheRightBytes_AndCommitsOnlyTheChain()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var crashed = AzuriteFixture.CreateStore(options);
        var key = StoreConformance.NewKey();
        var original = StoreConformance.Bytes(300 * KiB, seed: 2);
        const int published = 100 * KiB;
        const int lostFlush = 170 * KiB;

        var writer = await crashed.OpenWriterAsync(key, 0, original.Length, 1, CancellationToken.None);
        await writer.WriteAsync(original.AsMemory(0, published), CancellationToken.None);
        await writer.FlushAsync(toDisk: false, CancellationToken.None);
        await writer.WriteAsync(original.AsMemory(published, lostFlush - published), CancellationToken.None);
        await writer.FlushAsync(toDisk: false, CancellationToken.None);
        // the process dies here: its last flush was never published, and the writer is never disposed

        var replacement = StoreConformance.Bytes(original.Length - published, seed: 3);
        var logs = new ListLogger<AzureBlobUploadDataStore>();
        var restarted = new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, logger: logs);
        await using (var resumed = await restarted.OpenWriterAsync(key, published, original.Length, 1, CancellationToken.None))
        {
            resumed.Position.Should().Be(published);
            await resumed.WriteAsync(replacement, CancellationToken.None);
            await resumed.FlushAsync(toDisk: false, CancellationToken.None);
        }

        var staged = (await BlockListAsync(restarted, key)).UncommittedBlocks.Select(Decode).ToList();
        staged.Select(b => b.Generation).Distinct().Should().HaveCount(2, "the second writer names its blocks with a newer generation");
        var chain = BlockId.Chain(staged);

        await restarted.CompleteAsync(key, original.Length, 1, CancellationToken.None);
        logs.Events.Select(e => e.Id.Name).Should().Equal("AzureBlobReopened", "AzureBlobCommitted");
        logs.Events[0].Message.Should().Contain($"reopened at {published} (asked {published}); 2 staged block(s) past it are left out");

        var expected = original.AsSpan(0, published).ToArray().Concat(replacement).ToArray();
        var actual = await StoreConformance.ReadAllAsync(await crashed.OpenReadAsync(key, CancellationToken.None));
        actual.Should().Equal(expected);
        var committed = await BlockListAsync(restarted, key);
        committed.CommittedBlocks.Select(Decode).Should().Equal(chain);
        committed.CommittedBlocks.Select(Decode).Should().NotContain(b => b.Generation == 1 && b.Start >= published, "the dead writer's unpublished blocks are never committed");
        committed.UncommittedBlocks.Should().BeEmpty("committing drops the blocks left out");
    }

    [Fact]
    public async Task Reopen_AfterTwoWritersStagedTheSameRangeInBlocksOfOtherSizes_KeepsTheNewerWritersBytes()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var key = StoreConformance.NewKey();
        var first = StoreConformance.Bytes(200 * KiB, seed: 4);
        var second = StoreConformance.Bytes(100 * KiB, seed: 5);
        const int published = 100 * KiB;

        // Writer 1 flushes at 100 KiB (published), then at 130 and 200 KiB (both lost in a crash).
        var one = await AzuriteFixture.CreateStore(options).OpenWriterAsync(key, 0, null, 1, CancellationToken.None);
        foreach (var end in new[] { published, 130 * KiB, 200 * KiB })
        {
            await one.WriteAsync(first.AsMemory((int)one.Position, end - (int)one.Position), CancellationToken.None);
            await one.FlushAsync(toDisk: false, CancellationToken.None);
        }

        // Writer 2 resumes at 100 KiB and flushes once at 200 KiB: the same end, other bytes, another block size. Published.
        var two = await AzuriteFixture.CreateStore(options).OpenWriterAsync(key, published, null, 1, CancellationToken.None);
        two.Position.Should().Be(published);
        await two.WriteAsync(second.AsMemory(0, 50 * KiB), CancellationToken.None);
        await two.WriteAsync(second.AsMemory(50 * KiB), CancellationToken.None);
        await two.FlushAsync(toDisk: false, CancellationToken.None);

        var store = AzuriteFixture.CreateStore(options);
        await using (var three = await store.OpenWriterAsync(key, 200 * KiB, null, 1, CancellationToken.None))
        {
            three.Position.Should().Be(200 * KiB);
        }

        await store.CompleteAsync(key, 200 * KiB, 1, CancellationToken.None);
        var actual = await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None));
        actual.Should().Equal(first.AsSpan(0, published).ToArray().Concat(second));
    }

    [Fact]
    public async Task StaleWriterOfTheSameGeneration_WithoutLeases_FlushingAfterItsSuccessor_DoesNotHideTheSuccessorsBytes()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var key = StoreConformance.NewKey();
        var start = StoreConformance.Bytes(10 * KiB, seed: 20);
        await using (var first = await new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, clock).OpenWriterAsync(key, 0, null, 0, CancellationToken.None))
        {
            await first.WriteAsync(start, CancellationToken.None);
            await first.FlushAsync(toDisk: false, CancellationToken.None);
        }

        // A opens at 10 KiB, stalls, loses its lease; B (another instance, later) opens at the same offset and sees the same blocks.
        var stale = await new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, clock).OpenWriterAsync(key, start.Length, null, 0, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(30));
        var successorBytes = StoreConformance.Bytes(20 * KiB, seed: 21);
        await using (var successor = await new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, clock).OpenWriterAsync(key, start.Length, null, 0, CancellationToken.None))
        {
            await successor.WriteAsync(successorBytes, CancellationToken.None);
            await successor.FlushAsync(toDisk: false, CancellationToken.None); // published: 30 KiB
        }

        await stale.WriteAsync(StoreConformance.Bytes(5 * KiB, seed: 22), CancellationToken.None);
        await stale.FlushAsync(toDisk: false, CancellationToken.None); // flushed on its way out; its publish is refused
        await stale.DisposeAsync();

        var blocks = (await BlockListAsync(AzuriteFixture.CreateStore(options), key)).UncommittedBlocks.Select(Decode).ToList();
        blocks.Where(b => b.Start == start.Length).Select(b => b.Generation).Distinct().Should().ContainSingle("both writers saw the same blocks");

        var store = AzuriteFixture.CreateStore(options);
        await using (var resumed = await store.OpenWriterAsync(key, start.Length + successorBytes.Length, null, 0, CancellationToken.None))
        {
            resumed.Position.Should().Be(start.Length + successorBytes.Length);
        }

        await store.CompleteAsync(key, start.Length + successorBytes.Length, 0, CancellationToken.None);
        (await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None))).Should().Equal(start.Concat(successorBytes));
    }

    [Fact]
    public async Task StaleWriterOfTheSameGeneration_UnderLeases_LosesToTheNewerToken_WhateverTheInstanceClocks()
    {
        // As above, but the successor's instance clock runs 30 s BEHIND the stale writer's: the fencing token decides.
        var options = azurite.Options(blockSize: 64 * KiB);
        var staleClock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T10:00:30Z", System.Globalization.CultureInfo.InvariantCulture));
        var successorClock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var key = StoreConformance.NewKey();
        var start = StoreConformance.Bytes(10 * KiB, seed: 40);
        await using (var first = await new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, staleClock).OpenWriterAsync(key, 0, null, 1_800_000_000_000_003, CancellationToken.None))
        {
            await first.WriteAsync(start, CancellationToken.None);
            await first.FlushAsync(toDisk: false, CancellationToken.None);
        }

        var staleStore = new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, staleClock);
        var stale = await staleStore.OpenWriterAsync(key, start.Length, null, 1_800_000_000_000_005, CancellationToken.None);
        var successorBytes = StoreConformance.Bytes(20 * KiB, seed: 41);
        var successorStore = new AzureBlobUploadDataStore(AzureBlobContainerSource.FromOptions(options), options, successorClock);
        await using (var successor = await successorStore.OpenWriterAsync(key, start.Length, null, 1_800_000_000_000_007, CancellationToken.None))
        {
            await successor.WriteAsync(successorBytes, CancellationToken.None);
            await successor.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await stale.WriteAsync(StoreConformance.Bytes(5 * KiB, seed: 42), CancellationToken.None);
        await stale.FlushAsync(toDisk: false, CancellationToken.None);
        await stale.DisposeAsync();

        var blocks = (await BlockListAsync(AzuriteFixture.CreateStore(options), key)).UncommittedBlocks.Select(Decode).ToList();
        blocks.Where(b => b.Start == start.Length).Select(b => b.Generation).Distinct().Should().ContainSingle("both writers saw the same blocks");
        blocks.Select(b => b.Token).Should().Contain([1_800_000_000_000_005, 1_800_000_000_000_007], "the block ids carry the lease's token");

        // The stale writer can neither complete nor start over; the successor completes with its own bytes.
        var length = start.Length + successorBytes.Length;
        await FluentActions.Awaiting(() => staleStore.CompleteAsync(key, length, 1_800_000_000_000_005, CancellationToken.None).AsTask()).Should().ThrowAsync<UploadLeaseLostException>();
        await FluentActions.Awaiting(() => staleStore.OpenWriterAsync(key, 0, null, 1_800_000_000_000_005, CancellationToken.None).AsTask()).Should().ThrowAsync<UploadLeaseLostException>();
        await successorStore.CompleteAsync(key, length, 1_800_000_000_000_007, CancellationToken.None);
        (await StoreConformance.ReadAllAsync(await successorStore.OpenReadAsync(key, CancellationToken.None))).Should().Equal(start.Concat(successorBytes));
    }

    [Fact]
    public async Task OpenWriter_AfterAnUnrecordedCommit_KeepsTheCommittedBlob_AndCompletingAgainChangesNothing()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var store = AzuriteFixture.CreateStore(options);
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(150 * KiB, seed: 43);
        await using (var writer = await store.OpenWriterAsync(key, 0, bytes.Length, 8, CancellationToken.None))
        {
            await writer.WriteAsync(bytes, CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await store.CompleteAsync(key, bytes.Length, 8, CancellationToken.None);
        var etag = (await store.Container.GetBlockBlobClient(store.BlobName(key)).GetPropertiesAsync()).Value.ETag;

        // The completing save failed; the client resumes at the offset published before (64 KiB), under a newer lease.
        await using (var reopened = await AzuriteFixture.CreateStore(options).OpenWriterAsync(key, 64 * KiB, bytes.Length, 9, CancellationToken.None))
        {
            reopened.Position.Should().Be(bytes.Length);
        }

        await store.CompleteAsync(key, bytes.Length, 9, CancellationToken.None);
        (await store.Container.GetBlockBlobClient(store.BlobName(key)).GetPropertiesAsync()).Value.ETag.Should().Be(etag, "nothing was committed again");
        (await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None))).Should().Equal(bytes);
    }

    [Fact]
    public async Task Delete_UnfinishedUpload_LeavesNoBlocksAndNoBlob()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var store = AzuriteFixture.CreateStore(options);
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(StoreConformance.Bytes(150 * KiB, seed: 6), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        (await BlockListAsync(store, key)).UncommittedBlocks.Should().HaveCount(3);

        await store.DeleteAsync(key, CancellationToken.None);

        var gone = await FluentActions.Awaiting(() => BlockListAsync(store, key)).Should().ThrowAsync<RequestFailedException>();
        gone.Which.Status.Should().Be(404);
        (await ListAsync(store.Container, options.BlobPrefix, BlobStates.Uncommitted)).Should().BeEmpty();
    }

    [Fact]
    public async Task OpenWriter_AtZero_DropsTheBlocksOfTheEarlierAttempt()
    {
        var options = azurite.Options(blockSize: 64 * KiB);
        var store = AzuriteFixture.CreateStore(options);
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(StoreConformance.Bytes(100 * KiB, seed: 7), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await using (var fresh = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            fresh.Position.Should().Be(0);
            await FluentActions.Awaiting(() => BlockListAsync(store, key)).Should().ThrowAsync<RequestFailedException>("the earlier blocks are gone");
            await fresh.WriteAsync(StoreConformance.Bytes(10, seed: 8), CancellationToken.None);
            await fresh.FlushAsync(toDisk: false, CancellationToken.None);
        }

        var list = await BlockListAsync(store, key);
        list.UncommittedBlocks.Select(Decode).Should().ContainSingle().Which.Should().Match<BlockId>(b => b.Start == 0 && b.Length == 10);
    }

    [Fact]
    public async Task Complete_AtALengthWithNoBlockEndingThere_Throws()
    {
        var store = AzuriteFixture.CreateStore(azurite.Options());
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(StoreConformance.Bytes(1000, seed: 9), CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await FluentActions.Awaiting(() => store.CompleteAsync(key, 1500, 1, CancellationToken.None).AsTask())
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("*holds 1000 bytes*1500*");
        (await store.OpenReadAsync(key, CancellationToken.None)).Should().BeNull();
    }

    [Fact]
    public async Task BlobPrefix_KeepsStoresWithDifferentPrefixesApart()
    {
        var a = AzuriteFixture.CreateStore(azurite.Options(prefix: $"a-{Guid.NewGuid():N}/"));
        var bOptions = azurite.Options(prefix: $"b-{Guid.NewGuid():N}/");
        var b = AzuriteFixture.CreateStore(bOptions);
        var key = StoreConformance.NewKey();
        var bytes = StoreConformance.Bytes(1000, seed: 10);
        await using (var writer = await a.OpenWriterAsync(key, 0, null, 1, CancellationToken.None))
        {
            await writer.WriteAsync(bytes, CancellationToken.None);
            await writer.FlushAsync(toDisk: false, CancellationToken.None);
        }

        await a.CompleteAsync(key, bytes.Length, 1, CancellationToken.None);

        (await b.OpenReadAsync(key, CancellationToken.None)).Should().BeNull();
        await using (var other = await b.OpenWriterAsync(key, bytes.Length, null, 1, CancellationToken.None))
        {
            other.Position.Should().Be(0, "the other prefix holds nothing for this key");
        }

        await b.DeleteAsync(key, CancellationToken.None);
        (await StoreConformance.ReadAllAsync(await a.OpenReadAsync(key, CancellationToken.None))).Should().Equal(bytes);
        (await ListAsync(a.Container, a.BlobName(string.Empty))).Should().Equal(a.BlobName(key));
        (await ListAsync(b.Container, bOptions.BlobPrefix)).Should().BeEmpty();
    }

    [Fact]
    public async Task MissingContainer_WithoutCreateContainerIfMissing_FailsInsteadOfLookingEmpty()
    {
        var store = AzuriteFixture.CreateStore(azurite.Options(container: $"missing-{Guid.NewGuid():N}", createContainer: false));
        var key = StoreConformance.NewKey();

        var failure = await FluentActions.Awaiting(() => store.OpenReadAsync(key, CancellationToken.None).AsTask()).Should().ThrowAsync<RequestFailedException>();
        failure.Which.ErrorCode.Should().Be(BlobErrorCode.ContainerNotFound.ToString());
        await FluentActions.Awaiting(() => store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None).AsTask()).Should().ThrowAsync<RequestFailedException>();
    }

    [Fact]
    public async Task CreateContainerIfMissing_CreatesItOnFirstUse()
    {
        var container = $"created-{Guid.NewGuid():N}";
        var store = AzuriteFixture.CreateStore(azurite.Options(container: container, createContainer: true));

        (await store.OpenReadAsync(StoreConformance.NewKey(), CancellationToken.None)).Should().BeNull();

        (await azurite.ContainerClient(container).ExistsAsync()).Value.Should().BeTrue();
    }

    [Fact]
    public async Task ServerDown_EveryOperationThrows_NothingLooksMissingOrEmpty()
    {
        var server = await AzuriteServer.StartAsync();
        AzureBlobUploadDataStore store;
        var key = StoreConformance.NewKey();
        IAsyncDisposable? writer = null;
        try
        {
            store = AzuriteFixture.CreateStore(AzuriteFixture.OptionsFor(server.ConnectionString, maxRetries: 0));
            var open = await store.OpenWriterAsync(key, 0, null, 1, CancellationToken.None);
            writer = open;
            await open.WriteAsync(StoreConformance.Bytes(1000, seed: 11), CancellationToken.None);
            await open.FlushAsync(toDisk: false, CancellationToken.None);

            server.Kill();

            await open.WriteAsync(StoreConformance.Bytes(1000, seed: 12), CancellationToken.None);
            await FluentActions.Awaiting(() => open.FlushAsync(toDisk: false, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
            open.Position.Should().Be(2000, "the bytes stay buffered; the engine never publishes them");
        }
        finally
        {
            if (writer is not null)
            {
                await writer.DisposeAsync();
            }

            await server.DisposeAsync();
        }

        await FluentActions.Awaiting(() => store.OpenWriterAsync(key, 1000, null, 1, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(() => store.OpenReadAsync(key, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(() => store.CompleteAsync(key, 1000, 1, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
        await FluentActions.Awaiting(() => store.DeleteAsync(key, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
    }

    [Fact]
    public async Task ClosedPort_OpenWriterThrows()
    {
        var store = AzuriteFixture.CreateStore(AzuriteFixture.OptionsFor(AzuriteServer.ConnectionStringFor(ServerProcess.FreePort()), maxRetries: 0));
        await FluentActions.Awaiting(() => store.OpenWriterAsync(StoreConformance.NewKey(), 0, null, 1, CancellationToken.None).AsTask()).Should().ThrowAsync<Exception>();
    }

    private static BlockId Decode(BlobBlock block)
    {
        BlockId.TryDecode(block.Name, out var id).Should().BeTrue($"block id '{block.Name}' is in the store's format");
        return id;
    }

    private static async Task<BlockList> BlockListAsync(AzureBlobUploadDataStore store, string key)
        => (await store.Container.GetBlockBlobClient(store.BlobName(key)).GetBlockListAsync(BlockListTypes.All)).Value;

    private static async Task<List<string>> ListAsync(BlobContainerClient container, string prefix, BlobStates states = BlobStates.None)
    {
        var names = new List<string>();
        await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix, States = states }))
        {
            names.Add(item.Name);
        }

        return names;
    }
}
