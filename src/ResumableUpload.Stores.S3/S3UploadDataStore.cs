using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.S3;

/// <summary>
/// Keeps upload bytes in S3-compatible object storage. While an upload runs, its bytes are the parts of one multipart
/// upload (each at least the minimum part size) plus a <em>tail</em>: the bytes after the last part, written at each
/// flush as a small object named by the positions it covers. Completion uploads the tail as the last part and completes
/// the multipart upload into one object.
/// </summary>
/// <remarks>
/// Layout for key <c>K</c> under prefix <c>P</c>: the finished object <c>P K</c>; while unfinished,
/// <c>P K/upload</c> (the multipart upload's id) and <c>P K/tail-{start:D20}-{end:D20}-{chain}-{token:D20}</c> (bytes
/// [start, end), where start is the end of the parts it follows, written under lease <c>token</c>). A writer keeps the
/// tails of its last two flushes, so it can be reopened at either (the engine may have published only the earlier
/// one); parts ending beyond the reopened position are left out of the completion and overwritten by the next parts.
/// <para>
/// Fencing: a writer opened under a lease (token above 0) first refuses to go on when the upload holds a tail or a
/// fence of a newer token (<see cref="UploadLeaseLostException"/>), then leaves <c>P K/fence-{token:D20}</c> (empty) in
/// place of older fences. The fence outlives completion (until <see cref="DeleteAsync"/>), so a holder of an older lease
/// that wakes up can neither start the upload over (deleting the finished object), nor complete it, nor reopen it.
/// Without conditional writes the check and the act are two requests: a stale writer that passed its check a moment
/// before the newer one wrote its fence is not stopped, and a stale <c>UploadPart</c> of a part number the newer writer
/// also uploads replaces that part (its ETag then differs from the one the newer writer completes with, so the
/// completion fails rather than assemble bytes it did not write). The state store's fencing still refuses every
/// publish of the stale writer.
/// </para>
/// <para>
/// Completion is idempotent and never destroys bytes: once the finished object exists, a writer opened at an offset
/// above 0 keeps it and is positioned at its end (sealed), and <see cref="CompleteAsync"/> only cleans up. Only a writer
/// opened at 0 (the client starts over) deletes it.
/// </para>
/// </remarks>
internal sealed class S3UploadDataStore : IUploadDataStore, IUploadDataConcatenation
{
    private const string MarkerName = "upload";
    private const string TailPrefix = "tail-";
    private const string FencePrefix = "fence-";
    private const long MaximumCopyPartSize = 5L * 1024 * 1024 * 1024;
    private static readonly SearchValues<char> LowercaseHex = SearchValues.Create("0123456789abcdef");

    private readonly S3StoreClient _s3;

    public S3UploadDataStore(S3StoreClient s3)
    {
        ArgumentNullException.ThrowIfNull(s3);
        _s3 = s3;
    }

    private IAmazonS3 Client => _s3.Client;

    private string Bucket => _s3.BucketName;

    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(fencingToken);
        await _s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var partSize = PartSizeFor(expectedLength);
        var held = await LoadAsync(key, cancellationToken, listParts: offset > 0).ConfigureAwait(false);
        ThrowIfSuperseded(held, fencingToken);

        if (offset > 0)
        {
            if (await FinishedLengthAsync(key, cancellationToken).ConfigureAwait(false) is long sealedLength && sealedLength >= offset)
            {
                // Completed before, but the completion was not recorded (the state store failed, or the lease was lost
                // right after): the finished object is kept and the engine records the completion.
                await FenceAsync(key, held, fencingToken, cancellationToken).ConfigureAwait(false);
                return new SealedWriter(sealedLength);
            }

            var resolved = Resolve(held, offset);
            if (resolved.Position > 0)
            {
                await FenceAsync(key, held, fencingToken, cancellationToken).ConfigureAwait(false);
                return await ReopenAsync(key, held, resolved, partSize, fencingToken, cancellationToken).ConfigureAwait(false);
            }
        }

        // A fresh start: whatever an earlier upload of this key left goes (its fences too: this writer's replaces them).
        // The deletion checks the fences again, right before it removes anything and before the finished object, so a
        // writer that was paused since the listing above does not delete what a newer holder wrote meanwhile.
        await DeleteCoreAsync(key, fencingToken, cancellationToken).ConfigureAwait(false);
        await FenceAsync(key, held with { Fences = [] }, fencingToken, cancellationToken).ConfigureAwait(false);
        return new Writer(this, key, uploadId: null, [], position: 0, ArrayPool<byte>.Shared.Rent(partSize), bufferLength: 0, partSize, lastFlushTail: null, fencingToken);
    }

    public async ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        await _s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var objectKey = ObjectKey(key);
        GetObjectMetadataResponse metadata;
        try
        {
            metadata = await Client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = objectKey }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return new S3ReadStream(Client, Bucket, objectKey, metadata.ContentLength, metadata.ETag);
    }

    public async ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        await _s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var held = await LoadAsync(key, cancellationToken).ConfigureAwait(false);
        ThrowIfSuperseded(held, fencingToken);
        if (await FinishedLengthAsync(key, cancellationToken).ConfigureAwait(false) == length)
        {
            // Completed before (a retry, the completion of sealed bytes that was not recorded, or a completion that
            // died before cleaning up): only clean up. A fresh start deletes the finished object, so one that exists
            // is this upload's.
            await DeleteWorkObjectsAsync(held, keep: null, cancellationToken).ConfigureAwait(false);
            return;
        }

        var resolved = Resolve(held, length);
        if (resolved.Position != length)
        {
            throw new InvalidOperationException($"The S3 store holds {resolved.Position} bytes of upload {key}, not the {length} to complete it with.");
        }

        var tailLength = (int)(resolved.Position - resolved.ChainEnd);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(tailLength, 1));
        try
        {
            if (tailLength > 0)
            {
                await ReadTailAsync(resolved.Tail!, buffer, tailLength, cancellationToken).ConfigureAwait(false);
            }

            if (held.UploadId is null || resolved.ChainLength == 0)
            {
                // Everything is in the tail (smaller than a part): one plain object.
                await PutAsync(ObjectKey(key), buffer.AsMemory(0, tailLength), cancellationToken).ConfigureAwait(false);
                if (held.UploadId is not null)
                {
                    await AbortAsync(ObjectKey(key), held.UploadId, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                var parts = held.Parts.Take(resolved.ChainLength).Select(p => new PartETag(p.Number, p.ETag)).ToList();
                if (tailLength > 0)
                {
                    var number = resolved.ChainLength + 1;
                    var etag = await UploadPartAsync(ObjectKey(key), held.UploadId, number, buffer.AsMemory(0, tailLength), cancellationToken).ConfigureAwait(false);
                    parts.Add(new PartETag(number, etag));
                }

                await Client.CompleteMultipartUploadAsync(
                    new CompleteMultipartUploadRequest { BucketName = Bucket, Key = ObjectKey(key), UploadId = held.UploadId, PartETags = parts },
                    cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await DeleteWorkObjectsAsync(held, keep: null, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => DeleteCoreAsync(key, fencingToken: 0, cancellationToken);

    private async ValueTask DeleteCoreAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        await _s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        var objectKey = ObjectKey(key);
        var held = await LoadAsync(key, cancellationToken, listParts: false).ConfigureAwait(false);
        ThrowIfSuperseded(held, fencingToken);
        if (held.UploadId is not null)
        {
            await AbortAsync(objectKey, held.UploadId, cancellationToken).ConfigureAwait(false);
        }

        // Multipart uploads whose id never reached the marker (a crash right after creating one).
        string? keyMarker = null;
        string? uploadIdMarker = null;
        while (true)
        {
            var uploads = await Client.ListMultipartUploadsAsync(
                new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = objectKey, KeyMarker = keyMarker, UploadIdMarker = uploadIdMarker },
                cancellationToken).ConfigureAwait(false);
            foreach (var upload in uploads.MultipartUploads ?? [])
            {
                if (upload.Key == objectKey && upload.UploadId != held.UploadId)
                {
                    await AbortAsync(objectKey, upload.UploadId, cancellationToken).ConfigureAwait(false);
                }
            }

            if (uploads.IsTruncated != true || (uploads.NextKeyMarker is null && uploads.NextUploadIdMarker is null))
            {
                break;
            }

            keyMarker = uploads.NextKeyMarker;
            uploadIdMarker = uploads.NextUploadIdMarker;
        }

        await DeleteWorkObjectsAsync(held, keep: null, cancellationToken).ConfigureAwait(false);
        if (fencingToken > 0)
        {
            // Last look before the finished object goes: a newer holder may have completed it while this one waited.
            ThrowIfSuperseded(await LoadAsync(key, cancellationToken, listParts: false).ConfigureAwait(false), fencingToken);
        }

        foreach (var fence in held.Fences)
        {
            await DeleteObjectAsync(fence.Key, cancellationToken).ConfigureAwait(false);
        }

        await DeleteObjectAsync(objectKey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Joins finished objects into <paramref name="targetKey"/>'s, server-side where it can: a stretch of at least one
    /// part size becomes a part copied from its source (<c>UploadPartCopy</c> with a byte range); smaller stretches
    /// are read into the part buffer until it is full (or the end is reached). Under one part in all: one
    /// <c>PutObject</c>.
    /// </summary>
    public async ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken)
    {
        ValidateKey(targetKey);
        ArgumentNullException.ThrowIfNull(sourceKeys);
        var sources = new List<(string ObjectKey, long Length)>(sourceKeys.Count);
        foreach (var sourceKey in sourceKeys)
        {
            ValidateKey(sourceKey);
            var length = await FinishedLengthAsync(sourceKey, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Upload {sourceKey} has no finished object to concatenate.");
            sources.Add((ObjectKey(sourceKey), length));
        }

        await DeleteAsync(targetKey, cancellationToken).ConfigureAwait(false);
        var target = ObjectKey(targetKey);
        var partSize = PartSizeFor(sources.Sum(s => s.Length));
        var buffer = ArrayPool<byte>.Shared.Rent(partSize);
        string? uploadId = null;
        var parts = new List<PartETag>();
        var buffered = 0;
        try
        {
            foreach (var (source, length) in sources)
            {
                var position = 0L;
                while (position < length)
                {
                    var remaining = length - position;
                    if (buffered == 0 && remaining >= partSize)
                    {
                        var size = Math.Min(remaining, MaximumCopyPartSize);
                        uploadId ??= await StartMultipartAsync(targetKey, cancellationToken).ConfigureAwait(false);
                        ThrowIfTooManyParts(targetKey, parts.Count + 1, partSize);
                        var copied = await Client.CopyPartAsync(
                            new CopyPartRequest
                            {
                                SourceBucket = Bucket,
                                SourceKey = source,
                                DestinationBucket = Bucket,
                                DestinationKey = target,
                                UploadId = uploadId,
                                PartNumber = parts.Count + 1,
                                FirstByte = position,
                                LastByte = position + size - 1,
                            },
                            cancellationToken).ConfigureAwait(false);
                        parts.Add(new PartETag(parts.Count + 1, NormalizeETag(copied.ETag)));
                        position += size;
                        continue;
                    }

                    var take = (int)Math.Min(partSize - buffered, remaining);
                    await ReadRangeAsync(source, position, buffer.AsMemory(buffered, take), cancellationToken).ConfigureAwait(false);
                    buffered += take;
                    position += take;
                    if (buffered == partSize)
                    {
                        uploadId ??= await StartMultipartAsync(targetKey, cancellationToken).ConfigureAwait(false);
                        ThrowIfTooManyParts(targetKey, parts.Count + 1, partSize);
                        var etag = await UploadPartAsync(target, uploadId, parts.Count + 1, buffer.AsMemory(0, buffered), cancellationToken).ConfigureAwait(false);
                        parts.Add(new PartETag(parts.Count + 1, etag));
                        buffered = 0;
                    }
                }
            }

            if (uploadId is null)
            {
                await PutAsync(target, buffer.AsMemory(0, buffered), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                if (buffered > 0)
                {
                    ThrowIfTooManyParts(targetKey, parts.Count + 1, partSize);
                    var etag = await UploadPartAsync(target, uploadId, parts.Count + 1, buffer.AsMemory(0, buffered), cancellationToken).ConfigureAwait(false);
                    parts.Add(new PartETag(parts.Count + 1, etag));
                }

                await Client.CompleteMultipartUploadAsync(
                    new CompleteMultipartUploadRequest { BucketName = Bucket, Key = target, UploadId = uploadId, PartETags = parts },
                    cancellationToken).ConfigureAwait(false);
                await DeleteObjectAsync(WorkPrefix(targetKey) + MarkerName, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal string ObjectKey(string key) => _s3.Options.KeyPrefix + key;

    internal string WorkPrefix(string key) => _s3.Options.KeyPrefix + key + "/";

    /// <summary>The name of the tail object holding [<paramref name="start"/>, <paramref name="end"/>) after the parts whose fingerprint is <paramref name="chain"/>.</summary>
    internal string TailKey(string key, long start, long end, string chain, long fencingToken)
        => string.Create(CultureInfo.InvariantCulture, $"{WorkPrefix(key)}{TailPrefix}{start:D20}-{end:D20}-{chain}-{fencingToken:D20}");

    /// <summary>The name of the fence object of lease <paramref name="fencingToken"/>.</summary>
    internal string FenceKey(string key, long fencingToken)
        => string.Create(CultureInfo.InvariantCulture, $"{WorkPrefix(key)}{FencePrefix}{fencingToken:D20}");

    /// <summary>Refuses a writer (or a completion) when a newer lease has left a tail or a fence. Token 0 (no leases) is never fenced.</summary>
    private static void ThrowIfSuperseded(HeldBytes held, long fencingToken)
    {
        if (fencingToken <= 0)
        {
            return;
        }

        var newest = held.Tails.Select(t => t.Token).Concat(held.Fences.Select(f => f.Token)).DefaultIfEmpty(0).Max();
        if (newest > fencingToken)
        {
            throw new UploadLeaseLostException(string.Create(
                CultureInfo.InvariantCulture,
                $"Upload {held.Key} was written under fencing token {newest}, newer than this writer's {fencingToken}; nothing was changed."));
        }
    }

    /// <summary>Leaves this lease's fence and removes older ones (after: there is always one in place).</summary>
    private async Task FenceAsync(string key, HeldBytes held, long fencingToken, CancellationToken cancellationToken)
    {
        if (fencingToken <= 0)
        {
            return;
        }

        if (!held.Fences.Any(f => f.Token == fencingToken))
        {
            await PutAsync(FenceKey(key, fencingToken), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }

        foreach (var older in held.Fences.Where(f => f.Token < fencingToken))
        {
            await DeleteObjectAsync(older.Key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The fingerprints of the part chains 1..k for k = 0..<paramref name="count"/>: the first 16 hexadecimal digits of
    /// a SHA-256 over each part's number and ETag. A tail names the chain it follows, so a reopen never joins a tail to
    /// parts that were overwritten since (by a writer that died, or one that lost its lease and did not notice yet).
    /// </summary>
    internal static string[] ChainFingerprints(IReadOnlyList<PartInfo> parts, int count)
    {
        var fingerprints = new string[count + 1];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        fingerprints[0] = Fingerprint(hash);
        for (var k = 1; k <= count; k++)
        {
            AppendPart(hash, parts[k - 1]);
            fingerprints[k] = Fingerprint(hash);
        }

        return fingerprints;
    }

    internal static void AppendPart(IncrementalHash hash, PartInfo part)
        => hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{part.Number}:{part.ETag}\n")));

    internal static string Fingerprint(IncrementalHash hash) => Convert.ToHexStringLower(hash.GetCurrentHash())[..16];

    /// <summary>ETags come quoted from some servers and some calls, unquoted from others.</summary>
    internal static string NormalizeETag(string? etag) => (etag ?? string.Empty).Trim().Trim('"');

    private static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Length > 128 || key.AsSpan().ContainsAnyExcept(LowercaseHex))
        {
            // A second line of defence: object names are built from engine-derived keys only, never client strings.
            throw new ArgumentException("Store keys are derived by the engine (lowercase hexadecimal).", nameof(key));
        }
    }

    private int PartSizeFor(long? expectedLength)
    {
        var options = _s3.Options;
        long size = options.MinimumPartSize;
        if (expectedLength is long length && length > size * options.MaximumPartCount)
        {
            // Larger parts so the declared length fits the part count (leaving room for the tail as the last part).
            const long MiB = 1024 * 1024;
            size = ((length / (options.MaximumPartCount - 1)) + MiB) / MiB * MiB;
        }

        return (int)Math.Min(size, S3UploadStoreOptions.MaximumAllowedPartSize);
    }

    /// <summary>Reads what the store holds for <paramref name="key"/>: the marker's multipart upload with its parts, and the tails.</summary>
    private async Task<HeldBytes> LoadAsync(string key, CancellationToken cancellationToken, bool listParts = true)
    {
        var prefix = WorkPrefix(key);
        var tails = new List<TailObject>();
        var others = new List<string>();
        var fences = new List<FenceObject>();
        var markerExists = false;
        string? continuation = null;
        do
        {
            var page = await Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, ContinuationToken = continuation }, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                var name = item.Key[prefix.Length..];
                if (name == MarkerName)
                {
                    markerExists = true;
                }
                else if (TryParseTail(name, out var start, out var end, out var chain, out var token))
                {
                    tails.Add(new TailObject(item.Key, start, end, chain, token));
                }
                else if (name.StartsWith(FencePrefix, StringComparison.Ordinal)
                    && long.TryParse(name.AsSpan(FencePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var fence))
                {
                    fences.Add(new FenceObject(item.Key, fence));
                }
                else
                {
                    others.Add(item.Key);
                }
            }

            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);

        string? uploadId = null;
        var parts = new List<PartInfo>();
        if (markerExists)
        {
            uploadId = await ReadMarkerAsync(prefix + MarkerName, cancellationToken).ConfigureAwait(false);
            if (uploadId is not null && listParts)
            {
                try
                {
                    await ListPartsAsync(ObjectKey(key), uploadId, parts, cancellationToken).ConfigureAwait(false);
                }
                catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
                {
                    // The multipart upload was completed or aborted; the marker is stale.
                    uploadId = null;
                    parts.Clear();
                }
            }
        }

        return new HeldBytes(key, prefix + MarkerName, markerExists, uploadId, parts, tails, others, fences);
    }

    private async Task ListPartsAsync(string objectKey, string uploadId, List<PartInfo> parts, CancellationToken cancellationToken)
    {
        string? marker = null;
        while (true)
        {
            var page = await Client.ListPartsAsync(new ListPartsRequest { BucketName = Bucket, Key = objectKey, UploadId = uploadId, PartNumberMarker = marker }, cancellationToken).ConfigureAwait(false);
            foreach (var part in page.Parts ?? [])
            {
                parts.Add(new PartInfo(part.PartNumber ?? 0, part.Size ?? 0, NormalizeETag(part.ETag)));
            }

            if (page.IsTruncated != true || page.NextPartNumberMarker is not int next)
            {
                break;
            }

            marker = next.ToString(CultureInfo.InvariantCulture);
        }

        parts.Sort((a, b) => a.Number.CompareTo(b.Number));
    }

    /// <summary>
    /// Chooses the held state for <paramref name="offset"/>: a tail that covers the offset and follows parts 1..k (its
    /// start is where they end and its chain fingerprint is theirs). Prefers the tail ending exactly at the offset, then
    /// the shortest one covering it; when none covers it (the store holds fewer bytes), the furthest valid tail.
    /// </summary>
    internal static Resolution Resolve(HeldBytes held, long offset)
    {
        // ends[k] = end of parts 1..k (consecutive numbers from 1 only).
        var ends = new List<long> { 0 };
        if (held.UploadId is not null)
        {
            foreach (var part in held.Parts)
            {
                if (part.Number != ends.Count || part.Size <= 0)
                {
                    break;
                }

                ends.Add(ends[^1] + part.Size);
            }
        }

        var fingerprints = ChainFingerprints(held.Parts, ends.Count - 1);
        var chainOf = new Dictionary<long, int>();
        for (var k = 0; k < ends.Count; k++)
        {
            chainOf[ends[k]] = k;
        }

        Resolution? best = null;
        Resolution? furthest = null;
        // Of two tails ending at the offset, the newer lease's wins (it comes last).
        foreach (var tail in held.Tails.OrderBy(t => t.End).ThenBy(t => t.Token))
        {
            if (!chainOf.TryGetValue(tail.Start, out var k) || fingerprints[k] != tail.Chain)
            {
                continue;
            }

            if (tail.Start <= offset && offset <= tail.End)
            {
                if (best is null || tail.End == offset)
                {
                    best = new Resolution(k, tail.Start, tail, offset);
                }
            }
            else if (tail.End < offset && (furthest is null || tail.End > furthest.Position))
            {
                furthest = new Resolution(k, tail.Start, tail, tail.End);
            }
        }

        return best ?? furthest ?? new Resolution(0, 0, null, 0);
    }

    private async Task<IUploadDataWriter> ReopenAsync(string key, HeldBytes held, Resolution resolved, int partSize, long fencingToken, CancellationToken cancellationToken)
    {
        var tailLength = (int)(resolved.Position - resolved.ChainEnd);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(partSize, tailLength));
        try
        {
            var tail = resolved.Tail!;
            await ReadTailAsync(tail, buffer, tailLength, cancellationToken).ConfigureAwait(false);
            var kept = tail.Key;
            if (tail.End != resolved.Position)
            {
                // Truncated by rewriting, before the longer one (holding unpublished bytes) goes.
                kept = TailKey(key, resolved.ChainEnd, resolved.Position, tail.Chain, fencingToken);
                await PutAsync(kept, buffer.AsMemory(0, tailLength), cancellationToken).ConfigureAwait(false);
            }

            await DeleteWorkObjectsAsync(held, keep: kept, cancellationToken, keepMarker: true).ConfigureAwait(false);
            var parts = held.Parts.Take(resolved.ChainLength).ToList();
            return new Writer(this, key, held.UploadId, parts, resolved.Position, buffer, tailLength, partSize, kept, fencingToken);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private async Task<string?> ReadMarkerAsync(string markerKey, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = markerKey }, cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(response.ResponseStream);
            var id = (await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim();
            return id.Length == 0 ? null : id;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private Task ReadTailAsync(TailObject tail, byte[] buffer, int length, CancellationToken cancellationToken)
        => ReadRangeAsync(tail.Key, 0, buffer.AsMemory(0, length), cancellationToken);

    /// <summary>Reads <paramref name="destination"/>'s length of bytes of an object from <paramref name="from"/> on (one ranged GET).</summary>
    private async Task ReadRangeAsync(string objectKey, long from, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        using var response = await Client.GetObjectAsync(
            new GetObjectRequest { BucketName = Bucket, Key = objectKey, ByteRange = new ByteRange(from, from + destination.Length - 1) },
            cancellationToken).ConfigureAwait(false);
        var read = 0;
        while (read < destination.Length)
        {
            var n = await response.ResponseStream.ReadAsync(destination[read..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"The object '{objectKey}' ended after {from + read} bytes; {from + destination.Length} were expected.");
            }

            read += n;
        }
    }

    private void ThrowIfTooManyParts(string key, int partNumber, int partSize)
    {
        if (partNumber > _s3.Options.MaximumPartCount)
        {
            throw new InvalidOperationException($"Upload {key} would need more than {_s3.Options.MaximumPartCount} parts of {partSize} bytes; raise ResumableUploads:S3:MinimumPartSize or declare the upload's length.");
        }
    }

    private async Task<long?> FinishedLengthAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = await Client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = ObjectKey(key) }, cancellationToken).ConfigureAwait(false);
            return metadata.ContentLength;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    internal async Task PutAsync(string objectKey, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        using var body = AsStream(bytes);
        await Client.PutObjectAsync(
            new PutObjectRequest { BucketName = Bucket, Key = objectKey, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false, ContentType = "application/octet-stream" },
            cancellationToken).ConfigureAwait(false);
    }

    internal async Task<string> UploadPartAsync(string objectKey, string uploadId, int partNumber, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        using var body = AsStream(bytes);
        var response = await Client.UploadPartAsync(
            new UploadPartRequest { BucketName = Bucket, Key = objectKey, UploadId = uploadId, PartNumber = partNumber, InputStream = body, PartSize = bytes.Length, UseChunkEncoding = false },
            cancellationToken).ConfigureAwait(false);
        return NormalizeETag(response.ETag);
    }

    internal async Task<string> StartMultipartAsync(string key, CancellationToken cancellationToken)
    {
        var response = await Client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = Bucket, Key = ObjectKey(key), ContentType = "application/octet-stream" },
            cancellationToken).ConfigureAwait(false);
        await Client.PutObjectAsync(
            new PutObjectRequest { BucketName = Bucket, Key = WorkPrefix(key) + MarkerName, ContentBody = response.UploadId, UseChunkEncoding = false, ContentType = "text/plain" },
            cancellationToken).ConfigureAwait(false);
        return response.UploadId;
    }

    internal async Task DeleteObjectAsync(string objectKey, CancellationToken cancellationToken)
    {
        try
        {
            await Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = objectKey }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private async Task AbortAsync(string objectKey, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = objectKey, UploadId = uploadId }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Deletes the tails (but <paramref name="keep"/>), unknown leftovers and, unless kept, the marker; never the fences. One request each: no batch delete.</summary>
    private async Task DeleteWorkObjectsAsync(HeldBytes held, string? keep, CancellationToken cancellationToken, bool keepMarker = false)
    {
        foreach (var tail in held.Tails)
        {
            if (tail.Key != keep)
            {
                await DeleteObjectAsync(tail.Key, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var other in held.Others)
        {
            await DeleteObjectAsync(other, cancellationToken).ConfigureAwait(false);
        }

        if (held.MarkerExists && !keepMarker)
        {
            await DeleteObjectAsync(held.MarkerKey, cancellationToken).ConfigureAwait(false);
        }
    }

    private static MemoryStream AsStream(ReadOnlyMemory<byte> bytes)
        => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

    /// <summary>Reads a tail's name; one without a token (written before tokens were part of the name) counts as token 0.</summary>
    private static bool TryParseTail(string name, out long start, out long end, out string chain, out long token)
    {
        start = end = token = 0;
        chain = string.Empty;
        if (!name.StartsWith(TailPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var fields = name[TailPrefix.Length..].Split('-');
        if (fields.Length is not (3 or 4)
            || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out start)
            || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out end)
            || start > end
            || fields[2].Length != 16
            || (fields.Length == 4 && !long.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out token)))
        {
            return false;
        }

        chain = fields[2];
        return true;
    }

    internal sealed record PartInfo(int Number, long Size, string ETag);

    internal sealed record TailObject(string Key, long Start, long End, string Chain, long Token);

    internal sealed record FenceObject(string Key, long Token);

    internal sealed record HeldBytes(string Key, string MarkerKey, bool MarkerExists, string? UploadId, List<PartInfo> Parts, List<TailObject> Tails, List<string> Others, List<FenceObject> Fences);

    /// <summary>Parts 1..<paramref name="ChainLength"/> (ending at <paramref name="ChainEnd"/>), then <paramref name="Tail"/>'s bytes up to <paramref name="Position"/>.</summary>
    internal sealed record Resolution(int ChainLength, long ChainEnd, TailObject? Tail, long Position);

    /// <summary>
    /// Buffers at most one part. A full buffer becomes the next part at once; a flush writes what is buffered after the
    /// parts as a tail object (empty when a part ended exactly there), then deletes the tails older than the previous
    /// flush's.
    /// </summary>
    private sealed class Writer : IUploadDataWriter
    {
        private readonly S3UploadDataStore _store;
        private readonly string _key;
        private readonly List<PartInfo> _parts;
        private readonly int _partSize;
        private readonly HashSet<string> _tails = new(StringComparer.Ordinal);
        private readonly IncrementalHash _chain = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly long _fencingToken;
        private string? _uploadId;
        private byte[]? _buffer;
        private int _bufferLength;
        private long _lastFlushPosition;
        private string? _lastFlushTail;

        public Writer(S3UploadDataStore store, string key, string? uploadId, List<PartInfo> parts, long position, byte[] buffer, int bufferLength, int partSize, string? lastFlushTail, long fencingToken)
        {
            _fencingToken = fencingToken;
            _store = store;
            _key = key;
            _uploadId = uploadId;
            _parts = parts;
            Position = position;
            _buffer = buffer;
            _bufferLength = bufferLength;
            _partSize = Math.Max(partSize, bufferLength);
            _lastFlushPosition = position;
            _lastFlushTail = lastFlushTail;
            if (lastFlushTail is not null)
            {
                _tails.Add(lastFlushTail);
            }

            foreach (var part in parts)
            {
                AppendPart(_chain, part);
            }
        }

        public long Position { get; private set; }

        private long PartsEnd => Position - _bufferLength;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            var buffer = _buffer ?? throw new ObjectDisposedException(nameof(Writer));
            while (!data.IsEmpty)
            {
                var n = Math.Min(_partSize - _bufferLength, data.Length);
                data.Span[..n].CopyTo(buffer.AsSpan(_bufferLength));
                _bufferLength += n;
                Position += n;
                data = data[n..];
                if (_bufferLength >= _partSize)
                {
                    await UploadBufferAsPartAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public async ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken)
        {
            var buffer = _buffer ?? throw new ObjectDisposedException(nameof(Writer));
            if (Position == _lastFlushPosition)
            {
                return;
            }

            // Once S3 acknowledged a PUT the bytes are durable: toDisk asks for nothing more. The tail is written even
            // when empty (a part ended here): it names the chain of parts this position follows.
            var tail = _store.TailKey(_key, PartsEnd, Position, Fingerprint(_chain), _fencingToken);
            await _store.PutAsync(tail, buffer.AsMemory(0, _bufferLength), cancellationToken).ConfigureAwait(false);
            _tails.Add(tail);

            // Keep this flush's tail and the previous flush's (the engine may reopen at either); older ones go.
            foreach (var old in _tails.Where(t => t != tail && t != _lastFlushTail).ToList())
            {
                await _store.DeleteObjectAsync(old, cancellationToken).ConfigureAwait(false);
                _tails.Remove(old);
            }

            _lastFlushTail = tail;
            _lastFlushPosition = Position;
        }

        public ValueTask DisposeAsync()
        {
            // Nothing is flushed here: what was not flushed is not counted, as after a crash.
            var buffer = Interlocked.Exchange(ref _buffer, null);
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _chain.Dispose();
            }

            return ValueTask.CompletedTask;
        }

        private async Task UploadBufferAsPartAsync(byte[] buffer, CancellationToken cancellationToken)
        {
            var number = _parts.Count + 1;
            _store.ThrowIfTooManyParts(_key, number, _partSize);
            _uploadId ??= await _store.StartMultipartAsync(_key, cancellationToken).ConfigureAwait(false);
            var etag = await _store.UploadPartAsync(_store.ObjectKey(_key), _uploadId, number, buffer.AsMemory(0, _bufferLength), cancellationToken).ConfigureAwait(false);
            var part = new PartInfo(number, _bufferLength, etag);
            _parts.Add(part);
            AppendPart(_chain, part);
            _bufferLength = 0;
        }
    }

    /// <summary>The writer of bytes already sealed in the finished object: positioned at their end, it takes no more.</summary>
    private sealed class SealedWriter(long length) : IUploadDataWriter
    {
        public long Position => length;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
            => data.IsEmpty ? ValueTask.CompletedTask : ValueTask.FromException(new InvalidOperationException("The upload's bytes are sealed in its finished object; it takes no more."));

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
