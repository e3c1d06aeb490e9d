using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Http;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware.Protocols.Tus;

/// <summary>
/// The tus 1.0.0 front with the creation, creation-with-upload, creation-defer-length, termination, expiration,
/// checksum, checksum-trailer, concatenation and concatenation-unfinished extensions. It translates tus requests into
/// engine calls on the same stores, locks, limits and events as the X-File-Id front. Upload ids are 128 random bits
/// (32 hex characters) scoped to the caller's partition, so an upload URL is unguessable and useless to anyone else.
/// </summary>
internal sealed class TusProtocolHandler
{
    /// <summary>The engine file-id prefix of tus uploads, so they never share a name with X-File-Id uploads.</summary>
    public const string FileIdPrefix = "tus:";

    private readonly UploadFront _front;
    private readonly UploadEngine _engine;

    public TusProtocolHandler(UploadFront front)
    {
        _front = front;
        _engine = front.Engine;
    }

    public bool Enabled => _engine.Options.EnableTus;

    private bool SupportsConcatenation => _engine.DataStore is IUploadDataConcatenation;

    /// <summary>Whether <paramref name="segment"/> has the shape of an upload id this front hands out.</summary>
    public static bool IsUploadId(ReadOnlySpan<char> segment)
    {
        if (segment.Length != 32)
        {
            return false;
        }

        foreach (var c in segment)
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a request is meant for tus (it carries <c>Tus-Resumable</c>).</summary>
    public static bool IsTusRequest(HttpRequest request) => request.Headers.ContainsKey(TusHeaders.TusResumable);

    /// <summary>
    /// Core: "If a request contains the X-HTTP-Method-Override header, the Server MUST use its value as the HTTP
    /// method, ignoring the original method" (for clients that cannot send PATCH or DELETE).
    /// </summary>
    public static string EffectiveMethod(HttpRequest request)
    {
        if (request.Headers.TryGetValue(TusHeaders.MethodOverride, out var overridden) && overridden.Count == 1 && !string.IsNullOrEmpty(overridden[0]))
        {
            return overridden[0]!.ToUpperInvariant();
        }

        return request.Method;
    }

    /// <summary>Requests to the upload collection: <c>OPTIONS</c> (discovery) and <c>POST</c> (creation).</summary>
    public async Task HandleCollectionAsync(HttpContext context)
    {
        AddTusResumable(context);
        var method = EffectiveMethod(context.Request);
        if (HttpMethods.IsOptions(method))
        {
            WriteDiscovery(context);
            return;
        }

        if (!HttpMethods.IsPost(method))
        {
            await UploadFront.MethodNotAllowedAsync(context, "OPTIONS, POST").ConfigureAwait(false);
            return;
        }

        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Tus.Create");
        try
        {
            CheckVersion(context.Request);
            await CreateAsync(context).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, ex, plainTextConflict: false).ConfigureAwait(false);
        }
    }

    /// <summary>Requests to one upload: <c>HEAD</c>, <c>PATCH</c>, <c>DELETE</c>, and <c>GET</c> (download, when enabled).</summary>
    public async Task HandleUploadAsync(HttpContext context, string id)
    {
        AddTusResumable(context);
        var method = EffectiveMethod(context.Request);
        try
        {
            if (HttpMethods.IsGet(method) && _engine.Options.EnableDownload)
            {
                // Not part of tus: a finished upload's bytes, under the same partition rules.
                // Upload resources of the IETF front share this URL space.
                var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
                var fileId = FileIdPrefix + id;
                var record = await _engine.FindAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
                if (record is null)
                {
                    fileId = Ietf.IetfProtocolHandler.FileIdPrefix + id;
                    record = await _engine.FindAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
                }

                await _engine.AuthorizeAsync(context, UploadOperation.Download, partition, fileId).ConfigureAwait(false);
                if (record is null)
                {
                    throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
                }

                record = await _engine.TryCompleteAssemblyAsync(record, context, context.RequestAborted).ConfigureAwait(false);
                await _front.SendFileAsync(context, record).ConfigureAwait(false);
                return;
            }

            if (HttpMethods.IsOptions(method))
            {
                WriteDiscovery(context);
                return;
            }

            if (!(HttpMethods.IsHead(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method)))
            {
                await UploadFront.MethodNotAllowedAsync(context, _engine.Options.EnableDownload ? "HEAD, PATCH, DELETE, GET, OPTIONS" : "HEAD, PATCH, DELETE, OPTIONS").ConfigureAwait(false);
                return;
            }

            CheckVersion(context.Request);
            if (HttpMethods.IsHead(method))
            {
                await HeadAsync(context, id).ConfigureAwait(false);
            }
            else if (HttpMethods.IsPatch(method))
            {
                await PatchAsync(context, id).ConfigureAwait(false);
            }
            else
            {
                await DeleteAsync(context, id).ConfigureAwait(false);
            }
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, ex, plainTextConflict: false).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Core: "The Server MUST always include the Tus-Resumable header in the response" (except for OPTIONS, where it
    /// is allowed) — added when the response starts, so refusals carry it too.
    /// </summary>
    private static void AddTusResumable(HttpContext context)
        => context.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers[TusHeaders.TusResumable] = TusHeaders.Version;
            return Task.CompletedTask;
        }, context.Response);

    /// <summary>
    /// Core: "If the version specified by the Client is not supported by the Server, it MUST respond with the 412
    /// Precondition Failed status and MUST include the Tus-Version header into the response. In addition, the
    /// Server MUST NOT process the request."
    /// </summary>
    private static void CheckVersion(HttpRequest request)
    {
        var values = request.Headers[TusHeaders.TusResumable];
        if (values.Count != 1 || values[0] != TusHeaders.Version)
        {
            request.HttpContext.Response.OnStarting(static state =>
            {
                ((HttpResponse)state).Headers[TusHeaders.TusVersion] = TusHeaders.Version;
                return Task.CompletedTask;
            }, request.HttpContext.Response);
            throw new UploadException(UploadError.UnsupportedVersion, $"This server speaks tus {TusHeaders.Version}; send Tus-Resumable: {TusHeaders.Version}.") { Header = TusHeaders.TusResumable };
        }
    }

    /// <summary>
    /// Core: "An OPTIONS request MAY be used to gather information about the Server's current configuration. A
    /// successful response ... MUST contain the Tus-Version header. It MAY include the Tus-Extension and Tus-Max-Size
    /// headers." Extensions are advertised only when the configured stores can serve them.
    /// </summary>
    private void WriteDiscovery(HttpContext context)
    {
        var headers = context.Response.Headers;
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        headers[TusHeaders.TusVersion] = TusHeaders.Version;
        headers[TusHeaders.TusMaxSize] = _engine.Options.MaxUploadSize.ToString(CultureInfo.InvariantCulture);
        headers[TusHeaders.TusChecksumAlgorithm] = string.Join(',', ChunkChecksum.SupportedNames);
        var extensions = "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,checksum-trailer";
        if (SupportsConcatenation)
        {
            extensions += ",concatenation,concatenation-unfinished";
        }

        headers[TusHeaders.TusExtension] = extensions;
    }

    /// <summary>
    /// Creation: "The Client MUST send a POST request against a known upload creation URL to request a new upload
    /// resource. The request MUST include one of the following headers: a) Upload-Length ... b) Upload-Defer-Length: 1".
    /// "The Server MUST acknowledge a successful upload creation with the 201 Created status. The Server MUST set the
    /// Location header to the URL of the created resource." Over Tus-Max-Size: 413.
    /// </summary>
    private async Task CreateAsync(HttpContext context)
    {
        var request = context.Request;
        var options = _engine.Options;
        var (isPartial, partIds, partUrls) = ReadConcat(request);
        var length = TusHeaders.ReadNumber(request, TusHeaders.UploadLength);
        var deferValues = request.Headers[TusHeaders.UploadDeferLength];
        if (deferValues.Count > 0 && (deferValues.Count != 1 || deferValues[0] != "1"))
        {
            throw TusHeaders.Invalid(TusHeaders.UploadDeferLength, "Upload-Defer-Length must be 1.");
        }

        var deferred = deferValues.Count == 1;
        if (partIds is not null)
        {
            if (length is not null || deferred)
            {
                throw TusHeaders.Invalid(TusHeaders.UploadLength, "A final upload (Upload-Concat: final) takes its length from its parts; send no Upload-Length.");
            }
        }
        else if (length is null == !deferred)
        {
            throw TusHeaders.Invalid(TusHeaders.UploadLength, "Send exactly one of Upload-Length and Upload-Defer-Length: 1.");
        }

        if (length > options.MaxUploadSize)
        {
            throw new UploadException(UploadError.TooLarge, $"Upload-Length {length} exceeds Tus-Max-Size {options.MaxUploadSize}.");
        }

        var hasBody = UploadFront.HasBody(context);
        if (hasBody && (partIds is not null || !UploadFront.HasMediaType(request, TusHeaders.OffsetOctetStream)))
        {
            throw new UploadException(UploadError.UnsupportedMediaType, partIds is not null
                ? "A final upload takes no bytes of its own."
                : $"Creation with upload needs Content-Type: {TusHeaders.OffsetOctetStream}.");
        }

        if (hasBody && request.ContentLength > (length ?? options.MaxUploadSize))
        {
            throw new UploadException(UploadError.TooLarge, $"The body ({request.ContentLength} bytes) is longer than the upload ({length ?? options.MaxUploadSize} bytes).");
        }

        var metadata = TusHeaders.ReadMetadata(request);
        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var id = NewId();
        var fileId = FileIdPrefix + id;
        await _engine.AuthorizeAsync(context, UploadOperation.Append, partition, fileId).ConfigureAwait(false);

        List<string>? parts = null;
        if (partIds is not null)
        {
            parts = new List<string>(partIds.Count);
            long? total = 0;
            foreach (var partId in partIds)
            {
                var part = await _engine.FindAsync(partition, FileIdPrefix + partId, context.RequestAborted).ConfigureAwait(false);
                if (part is not { IsPartial: true })
                {
                    throw TusHeaders.Invalid(TusHeaders.UploadConcat, $"'{partId}' is not a partial upload of yours.");
                }

                parts.Add(part.FileId);
                total = total is null || part.Length is null ? null : total + part.Length;
            }

            if (total > options.MaxUploadSize)
            {
                throw new UploadException(UploadError.TooLarge, $"The parts add up to {total} bytes, more than Tus-Max-Size {options.MaxUploadSize}.");
            }

            length = total;
        }

        var record = await _engine.CreateAsync(new CreateUploadRequest(partition, fileId, length, context)
        {
            Metadata = metadata,
            IsPartial = isPartial,
            Parts = parts,
            PartReferences = partUrls,
        }, context.RequestAborted).ConfigureAwait(false);

        var location = $"{request.PathBase}{request.Path.Value!.TrimEnd('/')}/{id}";
        if (parts is not null)
        {
            record = await _engine.TryCompleteAssemblyAsync(record, context, context.RequestAborted).ConfigureAwait(false);
        }

        if (hasBody)
        {
            // Creation with upload: the body is the upload's first bytes, appended as a PATCH at offset 0 would be.
            // If that fails, the client never learns the upload's URL, so the upload is removed again.
            using var checksum = ReadChecksum(request);
            await _front.AppendAsync(
                context,
                new AppendRequest(partition, fileId, 0, null, request.ContentLength, context) { AllowRestart = false },
                completeWhenBodyEnds: false,
                checksum,
                plainTextConflict: false,
                appended =>
                {
                    WriteCreated(context, location, appended);
                    return Task.CompletedTask;
                },
                onFailure: async () => await _engine.DeleteAsync(partition, fileId, context, CancellationToken.None).ConfigureAwait(false)).ConfigureAwait(false);
            return;
        }

        WriteCreated(context, location, record);
    }

    private static void WriteCreated(HttpContext context, string location, UploadRecord record)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = location;
        response.Headers[TusHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
        AddExpires(response, record);
    }

    /// <summary>
    /// Core HEAD: "The Server MUST always include the Upload-Offset header in the response for a HEAD request, even if
    /// the offset is 0, or the upload is already considered completed. If the size of the upload is known, the Server
    /// MUST include the Upload-Length header in the response. If the resource is not found, the Server SHOULD return
    /// either the 404 Not Found, 410 Gone or 403 Forbidden status without the Upload-Offset header. The Server MUST
    /// prevent the client and/or proxies from caching the response by adding the Cache-Control: no-store header."
    /// Concatenation: a final upload's offset is left out until its parts are done.
    /// </summary>
    private async Task HeadAsync(HttpContext context, string id)
    {
        var record = await FindOwnAsync(context, id, UploadOperation.Status).ConfigureAwait(false);
        record = await _engine.TryCompleteAssemblyAsync(record, context, context.RequestAborted).ConfigureAwait(false);

        var response = context.Response;
        var headers = response.Headers;
        response.StatusCode = StatusCodes.Status200OK;
        headers.CacheControl = "no-store";
        if (record.Parts is null || record.IsCompleted)
        {
            headers[TusHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
        }

        if (record.Length is long length)
        {
            headers[TusHeaders.UploadLength] = length.ToString(CultureInfo.InvariantCulture);
        }
        else if (record.Parts is null)
        {
            headers[TusHeaders.UploadDeferLength] = "1";
        }

        if (record.Metadata.Count > 0)
        {
            headers[TusHeaders.UploadMetadata] = TusHeaders.FormatMetadata(record.Metadata);
        }

        if (record.IsPartial)
        {
            headers[TusHeaders.UploadConcat] = "partial";
        }
        else if (record.Parts is not null)
        {
            // Concatenation: "the Server MUST include the Upload-Concat header ... as received in the upload creation request".
            headers[TusHeaders.UploadConcat] = "final;" + string.Join(' ', record.PartReferences ?? record.Parts.Select(p => p[FileIdPrefix.Length..]));
        }

        AddExpires(response, record);
    }

    /// <summary>
    /// Core PATCH: "The Server SHOULD accept PATCH requests against any upload URL and apply the bytes contained in
    /// the message at the given offset specified by the Upload-Offset header. All PATCH requests MUST use
    /// Content-Type: application/offset+octet-stream, otherwise the server SHOULD return a 415 Unsupported Media Type
    /// status. ... If the offsets do not match, the Server MUST respond with the 409 Conflict status without modifying
    /// the upload resource. ... The Server MUST acknowledge successful PATCH requests with the 204 No Content status.
    /// It MUST include the Upload-Offset header containing the new offset."
    /// </summary>
    private async Task PatchAsync(HttpContext context, string id)
    {
        var request = context.Request;
        if (!UploadFront.HasMediaType(request, TusHeaders.OffsetOctetStream))
        {
            throw new UploadException(UploadError.UnsupportedMediaType, $"PATCH bodies must be sent as Content-Type: {TusHeaders.OffsetOctetStream}.");
        }

        var offset = TusHeaders.ReadNumber(request, TusHeaders.UploadOffset)
                     ?? throw TusHeaders.Invalid(TusHeaders.UploadOffset, "PATCH needs an Upload-Offset header.");
        var length = TusHeaders.ReadNumber(request, TusHeaders.UploadLength);
        var checksum = ReadChecksum(request);
        var record = await FindOwnAsync(context, id, UploadOperation.Append).ConfigureAwait(false);
        if (record.Parts is not null)
        {
            // Concatenation: "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL."
            throw new UploadException(UploadError.Forbidden, "A final upload is assembled from its parts and takes no PATCH.");
        }

        if (length is long declared && record.Length is long known && declared != known)
        {
            throw TusHeaders.Invalid(TusHeaders.UploadLength, $"Upload-Length is already {known} and cannot change.");
        }

        using (checksum)
        {
            await _front.AppendAsync(context, new AppendRequest(record.Partition, record.FileId, offset, length, request.ContentLength, context) { AllowRestart = false }, completeWhenBodyEnds: false, checksum, plainTextConflict: false, appended =>
            {
                var response = context.Response;
                response.StatusCode = StatusCodes.Status204NoContent;
                response.Headers[TusHeaders.UploadOffset] = appended.Offset.ToString(CultureInfo.InvariantCulture);
                AddExpires(response, appended);
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Termination: "When receiving a DELETE request for an existing upload the Server SHOULD free associated resources
    /// and MUST respond with the 204 No Content status confirming that the upload was terminated. For all future
    /// requests to this URL, the Server SHOULD respond with the 404 Not Found or 410 Gone status."
    /// </summary>
    private async Task DeleteAsync(HttpContext context, string id)
    {
        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var fileId = FileIdPrefix + id;
        await _engine.AuthorizeAsync(context, UploadOperation.Delete, partition, fileId).ConfigureAwait(false);
        if (!await _engine.DeleteAsync(partition, fileId, context, context.RequestAborted).ConfigureAwait(false))
        {
            throw new UploadException(UploadError.NotFound, "There is no such upload.");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>
    /// Looks an upload up in the caller's partition: another user's upload is simply not found (404). Expiration: an
    /// expired upload the server still remembers answers 410 Gone.
    /// </summary>
    private async Task<UploadRecord> FindOwnAsync(HttpContext context, string id, UploadOperation operation)
    {
        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var fileId = FileIdPrefix + id;
        await _engine.AuthorizeAsync(context, operation, partition, fileId).ConfigureAwait(false);
        var (record, expired) = await _engine.LookupAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
        if (record is null)
        {
            throw new UploadException(UploadError.NotFound, "There is no such upload.");
        }

        if (expired)
        {
            throw new UploadException(UploadError.Gone, "This upload has expired.");
        }

        return record;
    }

    /// <summary>
    /// Checksum: "Upload-Checksum ... MUST consist of the name of the used checksum algorithm and the Base64 encoded
    /// checksum separated by a space." An unsupported algorithm is a 400. Checksum-trailer: the same header may come
    /// as a trailer, announced in <c>Trailer</c>.
    /// </summary>
    private static ChunkChecksum? ReadChecksum(HttpRequest request)
    {
        var values = request.Headers[TusHeaders.UploadChecksum];
        if (values.Count > 1)
        {
            throw TusHeaders.Invalid(TusHeaders.UploadChecksum, "Send at most one Upload-Checksum.");
        }

        if (values.Count == 1)
        {
            var (algorithm, digest) = TusHeaders.ParseChecksum(values[0]!);
            return ChunkChecksum.ForKnown(algorithm, digest);
        }

        var announced = request.Headers[Microsoft.Net.Http.Headers.HeaderNames.Trailer].ToString();
        if (announced.Contains(TusHeaders.UploadChecksum, StringComparison.OrdinalIgnoreCase))
        {
            return ChunkChecksum.ForTrailer(() =>
            {
                if (!request.CheckTrailersAvailable())
                {
                    return null;
                }

                var trailer = request.GetTrailer(TusHeaders.UploadChecksum);
                return trailer.Count == 1 ? TusHeaders.ParseChecksum(trailer[0]!) : null;
            });
        }

        return null;
    }

    /// <summary>
    /// Concatenation: "Upload-Concat: partial" marks a part; "Upload-Concat: final;&lt;urls&gt;" lists the parts (absolute
    /// or path-absolute URLs separated by spaces) of the upload being created.
    /// </summary>
    private (bool IsPartial, IReadOnlyList<string>? PartIds, IReadOnlyList<string>? PartUrls) ReadConcat(HttpRequest request)
    {
        var values = request.Headers[TusHeaders.UploadConcat];
        if (values.Count == 0)
        {
            return (false, null, null);
        }

        if (!SupportsConcatenation)
        {
            throw TusHeaders.Invalid(TusHeaders.UploadConcat, "This server's data store cannot concatenate uploads.");
        }

        var value = values.Count == 1 ? values[0]! : string.Empty;
        if (value == "partial")
        {
            return (true, null, null);
        }

        if (!value.StartsWith("final;", StringComparison.Ordinal))
        {
            throw TusHeaders.Invalid(TusHeaders.UploadConcat, "Upload-Concat is 'partial' or 'final;' followed by the part URLs.");
        }

        var ids = new List<string>();
        var urls = value["final;".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var url in urls)
        {
            var path = Uri.TryCreate(url, UriKind.Absolute, out var absolute) ? absolute.AbsolutePath : url;
            var slash = path.TrimEnd('/').LastIndexOf('/');
            var id = path.TrimEnd('/')[(slash + 1)..];
            if (!IsUploadId(id))
            {
                throw TusHeaders.Invalid(TusHeaders.UploadConcat, $"'{url}' is not an upload URL of this server.");
            }

            ids.Add(id);
        }

        if (ids.Count == 0)
        {
            throw TusHeaders.Invalid(TusHeaders.UploadConcat, "A final upload needs at least one part.");
        }

        return (false, ids, urls);
    }

    /// <summary>Expiration: "The Upload-Expires response header indicates the time after which the unfinished upload expires ... in RFC 9110 format."</summary>
    private static void AddExpires(HttpResponse response, UploadRecord record)
    {
        if (!record.IsCompleted)
        {
            response.Headers[TusHeaders.UploadExpires] = record.ExpiresAt.ToString("R", CultureInfo.InvariantCulture);
        }
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
