using System.Buffers;
using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>
/// Keeps each upload's bytes in one block blob, <c>{BlobPrefix}{key}</c>. Writers stage blocks (every flush ends one,
/// and a full buffer does too); the block ids say which writer staged which byte range (<see cref="BlockId"/>), so the
/// block list alone tells any app instance where an upload stands. <see cref="CompleteAsync"/> commits the chain of
/// blocks from 0 to the upload's length; until then the blob is not visible to readers and holds uncommitted blocks only.
/// Under a lease, block ids carry the fencing token: the newest lease's blocks win, and a writer or a completion of an
/// older lease that finds a newer token's block is refused (<see cref="UploadLeaseLostException"/>). Once committed, the
/// blob is kept: a writer opened above 0 is positioned at its end (sealed) and a repeated completion changes nothing.
/// </summary>
internal sealed class AzureBlobUploadDataStore : IUploadDataStore, IUploadDataConcatenation
{
    private readonly BlobContainerClient _container;
    private readonly string _prefix;
    private readonly int _blockSize;
    private readonly bool _createContainer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Task? _containerCreation;

    public AzureBlobUploadDataStore(BlobContainerClient container, AzureBlobUploadStoreOptions options, TimeProvider? time = null, ILogger<AzureBlobUploadDataStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(options);
        _container = container;
        _prefix = options.BlobPrefix ?? string.Empty;
        _blockSize = options.BlockSize;
        _createContainer = options.CreateContainerIfMissing;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The container the store writes to.</summary>
    public BlobContainerClient Container => _container;

    /// <summary>The blob name of <paramref name="key"/>.</summary>
    public string BlobName(string key) => _prefix + key;

    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(fencingToken);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fencingToken, BlockId.MaxToken);
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        var (blocks, exists, committedLength) = await ListBlocksAsync(blob, cancellationToken).ConfigureAwait(false);
        ThrowIfSuperseded(blob, blocks, fencingToken);
        if (offset > 0 && committedLength is long sealedLength && sealedLength >= offset)
        {
            // Committed before, but the completion was not recorded (the state store failed, or the lease was lost right
            // after): the committed bytes are kept and the engine records the completion.
            Log.SealedKept(_logger, blob.Name, sealedLength, offset);
            return new SealedWriter(sealedLength);
        }

        var generation = blocks.Count == 0 ? 1 : blocks.Max(b => b.Generation) + 1;
        if (generation > BlockId.MaxGeneration)
        {
            throw new InvalidOperationException($"The upload's blob '{blob.Name}' has been reopened {BlockId.MaxGeneration} times; start it afresh.");
        }

        long position;
        if (offset == 0)
        {
            // Afresh: whatever was staged or committed before is dropped now rather than left for the service's
            // one-week clean-up of uncommitted blocks. The new generation alone would already hide it.
            if (exists)
            {
                await DiscardAsync(blob, cancellationToken).ConfigureAwait(false);
                Log.Discarded(_logger, blob.Name);
            }

            position = 0;
        }
        else
        {
            // The published offset is the end of one of the last two flushes, and every flush ends a block; a
            // position inside a block (only after a lost block, never expected here) falls back to that block's start.
            var (count, end) = BlockId.PrefixAtOrBefore(BlockId.Chain(blocks), offset);
            position = end;
            if (position < offset)
            {
                Log.ShorterThanPublished(_logger, blob.Name, position, offset);
            }
            else if (count < blocks.Count)
            {
                Log.Reopened(_logger, blob.Name, position, offset, blocks.Count - count);
            }
        }

        // A small upload of known length needs no full-size buffer: a block is never larger than what is left.
        var capacity = expectedLength is { } total && total > position ? (int)Math.Min(_blockSize, total - position) : _blockSize;
        return new Writer(blob, generation, fencingToken > 0 ? 0 : _time.GetUtcNow().ToUnixTimeMilliseconds(), fencingToken, position, capacity);
    }

    public async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            return await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (IsBlobNotFound(ex))
        {
            return null;
        }
    }

    public async ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        var (blocks, _, committedLength) = await ListBlocksAsync(blob, cancellationToken).ConfigureAwait(false);
        ThrowIfSuperseded(blob, blocks, fencingToken);
        if (committedLength == length)
        {
            // Committed before (a retry, or the completion of sealed bytes that was not recorded): nothing to do. A start
            // from 0 discards a committed blob, so one that exists is this upload's.
            return;
        }

        var chain = BlockId.Chain(blocks);
        var (count, end) = BlockId.PrefixAtOrBefore(chain, length);
        if (end != length)
        {
            throw new InvalidOperationException($"The upload's blob '{blob.Name}' holds {chain.LastOrDefault().End} bytes in staged blocks, with no block ending at {length}; it cannot be completed at that length.");
        }

        var ids = chain.Take(count).Select(b => b.Encode()).ToList();
        var commit = new CommitBlockListOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" } };
        await blob.CommitBlockListAsync(ids, commit, cancellationToken).ConfigureAwait(false);
        Log.Committed(_logger, blob.Name, ids.Count, length);
    }

    public async ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        var deleted = await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, conditions: null, cancellationToken).ConfigureAwait(false);
        if (deleted.Value)
        {
            return; // deleting a committed blob drops its uncommitted blocks too
        }

        // An unfinished upload has uncommitted blocks only, and the service cannot delete what it does not list as a blob.
        var (_, exists) = await GetBlocksAsync(blob, cancellationToken).ConfigureAwait(false);
        if (exists)
        {
            await DiscardAsync(blob, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Streams the sources' committed bytes, in order, into fresh blocks of the target (opened at 0, so whatever it
    /// held is dropped); the engine then completes the target. Memory stays at one block buffer and one read buffer.
    /// </summary>
    public async ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sourceKeys);
        var writer = await OpenWriterAsync(targetKey, 0, expectedLength: null, fencingToken: 0, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            var chunk = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                foreach (var sourceKey in sourceKeys)
                {
                    var source = await OpenReadAsync(sourceKey, cancellationToken).ConfigureAwait(false)
                        ?? throw new InvalidOperationException($"The upload '{sourceKey}' has no committed bytes to concatenate.");
                    await using (source.ConfigureAwait(false))
                    {
                        int read;
                        while ((read = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                        {
                            await writer.WriteAsync(chunk.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            await writer.FlushAsync(toDisk: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks that the container answers (creating it first when configured to); throws when it does not.</summary>
    public async ValueTask<BlobContainerProperties> ProbeAsync(CancellationToken cancellationToken)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        return (await _container.GetPropertiesAsync(conditions: null, cancellationToken).ConfigureAwait(false)).Value;
    }

    /// <summary>Every block of the blob that this store named (committed and uncommitted), and whether the service knows the blob at all.</summary>
    internal static async ValueTask<(List<BlockId> Blocks, bool Exists)> GetBlocksAsync(BlockBlobClient blob, CancellationToken cancellationToken)
    {
        var (blocks, exists, _) = await ListBlocksAsync(blob, cancellationToken).ConfigureAwait(false);
        return (blocks, exists);
    }

    /// <summary>As <see cref="GetBlocksAsync"/>, plus the committed length (<see langword="null"/> while nothing is committed).</summary>
    private static async ValueTask<(List<BlockId> Blocks, bool Exists, long? CommittedLength)> ListBlocksAsync(BlockBlobClient blob, CancellationToken cancellationToken)
    {
        BlockList list;
        try
        {
            list = (await blob.GetBlockListAsync(BlockListTypes.All, snapshot: null, conditions: null, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException ex) when (IsBlobNotFound(ex))
        {
            return ([], false, null);
        }

        var committedBlocks = (list.CommittedBlocks ?? []).ToList();
        var committed = committedBlocks.Count > 0 ? committedBlocks.Sum(b => b.SizeLong) : (long?)null;

        var blocks = new List<BlockId>();
        foreach (var block in (list.CommittedBlocks ?? []).Concat(list.UncommittedBlocks ?? []))
        {
            if (BlockId.TryDecode(block.Name, out var id) && id.Length == block.SizeLong)
            {
                blocks.Add(id);
            }
        }

        return (blocks, true, committed);
    }

    /// <summary>Refuses a writer (or a completion) of a lease older than a block's. Token 0 (no leases) is never fenced.</summary>
    private static void ThrowIfSuperseded(BlockBlobClient blob, List<BlockId> blocks, long fencingToken)
    {
        if (fencingToken > 0 && blocks.Count > 0 && blocks.Max(b => b.Token) is var newest && newest > fencingToken)
        {
            throw new UploadLeaseLostException($"The upload's blob '{blob.Name}' holds blocks of fencing token {newest}, newer than this writer's {fencingToken}; nothing was changed.");
        }
    }

    private static async ValueTask DiscardAsync(BlockBlobClient blob, CancellationToken cancellationToken)
    {
        // Committing an empty list makes the blob exist (empty) and drops every uncommitted block; then it can go.
        await blob.CommitBlockListAsync([], options: null, cancellationToken).ConfigureAwait(false);
        await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, conditions: null, cancellationToken).ConfigureAwait(false);
    }

    private static bool IsBlobNotFound(RequestFailedException ex)
        => ex.Status == 404 && ex.ErrorCode != BlobErrorCode.ContainerNotFound;

    private async ValueTask<BlockBlobClient> BlobAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        return _container.GetBlockBlobClient(BlobName(key));
    }

    private async ValueTask EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (!_createContainer)
        {
            return;
        }

        var creation = Volatile.Read(ref _containerCreation);
        if (creation is null)
        {
            var started = _container.CreateIfNotExistsAsync(PublicAccessType.None, metadata: null, encryptionScopeOptions: null, CancellationToken.None);
            creation = Interlocked.CompareExchange(ref _containerCreation, started, null) ?? started;
        }

        try
        {
            await creation.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch when (creation.IsFaulted || creation.IsCanceled)
        {
            // Not remembered: the next call tries again (the service may be back).
            _ = Interlocked.CompareExchange(ref _containerCreation, null, creation);
            throw;
        }
    }

    private sealed class Writer : IUploadDataWriter
    {
        private readonly BlockBlobClient _blob;
        private readonly long _generation;
        private readonly long _openedAt;
        private readonly long _token;
        private readonly uint _nonce;
        private readonly int _capacity;
        private byte[]? _buffer;
        private int _buffered;
        private long _staged;

        public Writer(BlockBlobClient blob, long generation, long openedAt, long token, long position, int capacity)
        {
            _blob = blob;
            _generation = generation;
            _openedAt = openedAt;
            _token = token;
            _nonce = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
            _staged = position;
            _capacity = capacity;
        }

        public long Position => _staged + _buffered;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            while (!data.IsEmpty)
            {
                _buffer ??= ArrayPool<byte>.Shared.Rent(_capacity);
                var take = Math.Min(data.Length, _capacity - _buffered);
                data.Span[..take].CopyTo(_buffer.AsSpan(_buffered));
                _buffered += take;
                data = data[take..];
                if (_buffered == _capacity)
                {
                    await StageAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken)
            => _buffered == 0 ? ValueTask.CompletedTask : StageAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            // Bytes never flushed are dropped: the engine never counted them.
            if (_buffer is { } buffer)
            {
                _buffer = null;
                _buffered = 0;
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return ValueTask.CompletedTask;
        }

        private async ValueTask StageAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            var id = new BlockId(_generation, _openedAt, _nonce, _staged, _buffered) { Token = _token };
            using (var content = new MemoryStream(_buffer, 0, _buffered, writable: false))
            {
                await _blob.StageBlockAsync(id.Encode(), content, options: null, cancellationToken).ConfigureAwait(false);
            }

            _staged += _buffered;
            _buffered = 0;
        }
    }

    /// <summary>The writer of a committed blob: positioned at its end, it takes no more.</summary>
    private sealed class SealedWriter(long length) : IUploadDataWriter
    {
        public long Position => length;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
            => data.IsEmpty ? ValueTask.CompletedTask : ValueTask.FromException(new InvalidOperationException("The upload's blob is committed; it takes no more bytes."));

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
