using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Http;
using ResumableUpload.Middleware.Protocols.Tus;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware.Protocols.Ietf;

/// <summary>
/// The front for the IETF "Resumable Uploads for HTTP" draft (draft-ietf-httpbis-resumable-upload), interop
/// versions 3 to 8, chosen per request from <c>Upload-Draft-Interop-Version</c>. Upload creation at the collection
/// (<c>POST {prefix}</c>), offset retrieval (<c>HEAD</c>), append (<c>PATCH</c>) and cancellation (<c>DELETE</c>) at
/// <c>{prefix}/{id}</c>, on the same engine, stores, locks, limits and events as the other fronts. A new HEAD, PATCH
/// or DELETE for an upload ends the request still writing it, as the draft recommends.
/// </summary>
internal sealed class IetfProtocolHandler
{
    /// <summary>The engine file-id prefix of IETF uploads.</summary>
    public const string FileIdPrefix = "ietf:";

    /// <summary>How long a new request waits for the request it ends to publish its bytes.</summary>
    private static readonly TimeSpan TakeOverWait = TimeSpan.FromSeconds(5);

    private readonly UploadFront _front;
    private readonly UploadEngine _engine;

    public IetfProtocolHandler(UploadFront front)
    {
        _front = front;
        _engine = front.Engine;
    }

    public bool Enabled => _engine.Options.EnableIetf;

    /// <summary>
    /// Upload creation: "The client can send the request to the target resource ... with Upload-Complete". The server
    /// creates an upload resource, tells its URL in a 104 (when it can) and in the final response, and keeps the bytes
    /// that arrive.
    /// </summary>
    public async Task HandleCreationAsync(HttpContext context)
    {
        var request = context.Request;
        var version = IetfVersion.Parse(request.Headers[IetfHeaders.InteropVersion].FirstOrDefault());
        AddVersion(context, version);
        AddRefusalHeaders(context, version);
        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Ietf.Create");
        try
        {
            var options = _engine.Options;
            if (request.Headers.ContainsKey(IetfHeaders.UploadOffset))
            {
                throw IetfHeaders.Invalid(IetfHeaders.UploadOffset, "An upload creation request must not carry Upload-Offset.");
            }

            var complete = IetfHeaders.ReadComplete(request, version, creation: true);
            var declared = IetfHeaders.ReadInteger(request, IetfHeaders.UploadLength);
            var length = declared;
            if (complete && request.ContentLength is long contentLength)
            {
                // "If the request includes Upload-Complete: ?1 and Content-Length, the sizes must agree."
                if (declared is not null && declared != contentLength)
                {
                    throw InconsistentLength(version, $"Upload-Length ({declared}) differs from the Content-Length ({contentLength}) of a request that completes the upload.");
                }

                length = contentLength;
            }

            if (length > options.MaxUploadSize)
            {
                throw new UploadException(UploadError.TooLarge, $"The upload ({length} bytes) is larger than the maximum of {options.MaxUploadSize} bytes.");
            }

            if (length is null && request.ContentLength > options.MaxUploadSize)
            {
                throw new UploadException(UploadError.TooLarge, $"The body ({request.ContentLength} bytes) is larger than the maximum of {options.MaxUploadSize} bytes.");
            }

            if (request.ContentLength > length)
            {
                throw InconsistentLength(version, $"The body ({request.ContentLength} bytes) is longer than the upload ({length} bytes).");
            }

            var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var fileId = FileIdPrefix + id;
            await _engine.AuthorizeAsync(context, UploadOperation.Append, partition, fileId).ConfigureAwait(false);
            var metadata = request.Headers.ContainsKey(TusHeaders.UploadMetadata) ? TusHeaders.ReadMetadata(request) : UploadRecord.EmptyMetadata;
            var representation = IetfHeaders.ReadDigest(request, IetfHeaders.ReprDigest);
            var record = await _engine.CreateAsync(new CreateUploadRequest(partition, fileId, length, context)
            {
                Metadata = metadata,
                RepresentationDigest = representation is { } digest ? digest.Algorithm + ":" + Convert.ToBase64String(digest.Digest) : null,
            }, context.RequestAborted).ConfigureAwait(false);
            var location = $"{request.PathBase}{request.Path.Value!.TrimEnd('/')}/{id}";

            // "The server SHOULD send the 104 (Upload Resumption Supported) informational response with the Location
            // of the upload resource" — only when the client named a version this server speaks, and only where the
            // server can send interim responses (HTTP/1.1 on Kestrel with the connection middleware turned on).
            if (version.IsKnown)
            {
                var headers = new List<KeyValuePair<string, string>>
                {
                    new(IetfHeaders.InteropVersion, version.Number.ToString(CultureInfo.InvariantCulture)),
                    new("Location", location),
                };
                if (version.HasLimitsAndProblemTypes)
                {
                    headers.Add(new(IetfHeaders.UploadLimit, Limits(version, record)));
                }

                await IetfInformational.TrySendAsync(context, headers).ConfigureAwait(false);
            }

            var hasBody = UploadFront.HasBody(context);
            if (!hasBody)
            {
                if (complete && !record.IsCompleted)
                {
                    // An empty body that completes the upload: its length is what has arrived, nothing.
                    await AppendEmptyAsync(context, record, version, location).ConfigureAwait(false);
                    return;
                }

                WriteResult(context, version, record, creation: true, location);
                return;
            }

            await _front.AppendAsync(
                context,
                new AppendRequest(partition, fileId, 0, length, request.ContentLength, context) { AllowRestart = false },
                completeWhenBodyEnds: complete,
                checksum: ReadDigest(request),
                plainTextConflict: false,
                appended =>
                {
                    WriteResult(context, version, appended, creation: true, location);
                    return Task.CompletedTask;
                },
                translate: ex => Translate(ex, version, 0)).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, Translate(ex, version, null), plainTextConflict: false).ConfigureAwait(false);
        }
    }

    /// <summary>Requests to an upload resource: offset retrieval (HEAD), append (PATCH) and cancellation (DELETE).</summary>
    public async Task HandleUploadAsync(HttpContext context, string id)
    {
        var request = context.Request;
        var version = IetfVersion.Parse(request.Headers[IetfHeaders.InteropVersion].FirstOrDefault());
        AddVersion(context, version);
        AddRefusalHeaders(context, version);
        var method = TusProtocolHandler.EffectiveMethod(request);
        try
        {
            if (HttpMethods.IsHead(method))
            {
                await HeadAsync(context, id, version).ConfigureAwait(false);
            }
            else if (HttpMethods.IsPatch(method))
            {
                await PatchAsync(context, id, version).ConfigureAwait(false);
            }
            else if (HttpMethods.IsDelete(method))
            {
                await DeleteAsync(context, id, version).ConfigureAwait(false);
            }
            else
            {
                await UploadFront.MethodNotAllowedAsync(context, "HEAD, PATCH, DELETE").ConfigureAwait(false);
            }
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, Translate(ex, version, null), plainTextConflict: false).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Offset retrieval: "The request MUST NOT include an Upload-Offset, Upload-Complete, or Upload-Length header
    /// field" (400). The response carries Upload-Offset, Upload-Complete (Upload-Incomplete in 3), Upload-Length when
    /// known, Upload-Limit (from 6; MUST from 8) and Cache-Control: no-store. The offset is never stale: a request
    /// still writing the upload is ended first and its bytes published.
    /// </summary>
    private async Task HeadAsync(HttpContext context, string id, IetfVersion version)
    {
        var request = context.Request;
        foreach (var forbidden in new[] { IetfHeaders.UploadOffset, IetfHeaders.UploadComplete, IetfHeaders.UploadIncomplete, IetfHeaders.UploadLength })
        {
            if (request.Headers.ContainsKey(forbidden))
            {
                throw IetfHeaders.Invalid(forbidden, $"An offset retrieval request must not carry {forbidden}.");
            }
        }

        var record = await FindAsync(context, id, version, UploadOperation.Status, takeOver: true).ConfigureAwait(false);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status204NoContent;
        response.Headers.CacheControl = "no-store";
        response.Headers[IetfHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
        AddCompletion(response, version, record.IsCompleted);
        if (record.Length is long length && !version.UsesUploadIncomplete)
        {
            // Defined from draft-05 (version 6); sent from 4 on as well, since clients of those versions read it.
            response.Headers[IetfHeaders.UploadLength] = length.ToString(CultureInfo.InvariantCulture);
        }

        if (version.HasLimitsAndProblemTypes)
        {
            response.Headers[IetfHeaders.UploadLimit] = Limits(version, record);
        }
    }

    /// <summary>
    /// Upload append: "The request MUST include the Upload-Offset header field" and, from 6, "MUST use the media type
    /// application/partial-upload". A mismatched offset is 409 with the right Upload-Offset (and from 6 the
    /// mismatching-upload-offset problem type); bytes for a completed upload are refused (completed-upload, or from 8
    /// inconsistent-upload-length for a non-empty body and 410 for an empty one).
    /// </summary>
    private async Task PatchAsync(HttpContext context, string id, IetfVersion version)
    {
        var request = context.Request;
        if (version.RequiresPartialUploadContentType && !UploadFront.HasMediaType(request, IetfHeaders.PartialUpload))
        {
            throw new UploadException(UploadError.UnsupportedMediaType, $"Appends are sent as Content-Type: {IetfHeaders.PartialUpload}.");
        }

        var offset = IetfHeaders.ReadInteger(request, IetfHeaders.UploadOffset)
                     ?? throw IetfHeaders.Invalid(IetfHeaders.UploadOffset, "An append request must carry Upload-Offset.");
        var complete = IetfHeaders.ReadComplete(request, version, creation: false);
        var declared = IetfHeaders.ReadInteger(request, IetfHeaders.UploadLength);
        var record = await FindAsync(context, id, version, UploadOperation.Append, takeOver: true).ConfigureAwait(false);
        var hasBody = UploadFront.HasBody(context);
        if (record.IsCompleted)
        {
            if (version.Number >= 8 && !hasBody)
            {
                throw new UploadException(UploadError.Gone, "This upload is already complete.")
                {
                    ProblemType = IetfHeaders.ProblemTypeBase + "completed-upload",
                    CurrentOffset = record.Offset,
                };
            }

            throw version.Number >= 8
                ? InconsistentLength(version, "This upload is already complete; it takes no more bytes.")
                : new UploadException(UploadError.AlreadyCompleted, "This upload is already complete.")
                {
                    StatusCode = StatusCodes.Status400BadRequest,
                    ProblemType = version.HasLimitsAndProblemTypes ? IetfHeaders.ProblemTypeBase + "completed-upload" : null,
                    CurrentOffset = record.Offset,
                };
        }

        var length = declared ?? record.Length;
        if (declared is not null && record.Length is long known && declared != known)
        {
            throw InconsistentLength(version, $"Upload-Length ({declared}) differs from the length recorded for this upload ({known}).");
        }

        if (complete && request.ContentLength is long contentLength && offset == record.Offset)
        {
            // (A wrong offset is answered 409 by the engine, before any length question.)
            var final = offset + contentLength;
            if (length is not null && length != final)
            {
                throw InconsistentLength(version, $"This request would end the upload at {final} bytes, but its length is {length}.");
            }

            length = final;
        }

        if (length > _engine.Options.MaxUploadSize)
        {
            throw new UploadException(UploadError.TooLarge, $"The upload ({length} bytes) is larger than the maximum of {_engine.Options.MaxUploadSize} bytes.");
        }

        if (!hasBody && complete)
        {
            // An empty append that completes the upload at its current offset.
            if (offset != record.Offset)
            {
                throw Mismatch(version, record.Offset, offset);
            }

            await AppendEmptyAsync(context, record, version, location: null).ConfigureAwait(false);
            return;
        }

        using var digest = ReadDigest(request);
        await _front.AppendAsync(
            context,
            new AppendRequest(record.Partition, record.FileId, offset, length, request.ContentLength, context) { AllowRestart = false },
            completeWhenBodyEnds: complete,
            digest,
            plainTextConflict: false,
            appended =>
            {
                if (complete && !appended.IsCompleted && length is not null)
                {
                    // "Upload-Complete: ?1" on a body that ended before the known length.
                    throw InconsistentLength(version, $"The request said it completes the upload, but the upload holds {appended.Offset} of {length} bytes.");
                }

                WriteResult(context, version, appended, creation: false, location: null);
                return Task.CompletedTask;
            },
            translate: ex => ex.Error == UploadError.TooLarge && length is not null
                ? InconsistentLength(version, $"The body goes past the upload's length of {length} bytes; the bytes before it are kept.")
                : Translate(ex, version, offset)).ConfigureAwait(false);
    }

    /// <summary>Upload cancellation: "The request MUST NOT include an Upload-Offset or Upload-Complete header field"; 204 on success, 404 when unknown.</summary>
    private async Task DeleteAsync(HttpContext context, string id, IetfVersion version)
    {
        var request = context.Request;
        foreach (var forbidden in new[] { IetfHeaders.UploadOffset, IetfHeaders.UploadComplete, IetfHeaders.UploadIncomplete })
        {
            if (request.Headers.ContainsKey(forbidden))
            {
                throw IetfHeaders.Invalid(forbidden, $"A cancellation request must not carry {forbidden}.");
            }
        }

        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var fileId = FileIdPrefix + id;
        await _engine.AuthorizeAsync(context, UploadOperation.Delete, partition, fileId).ConfigureAwait(false);
        await _engine.TakeOverAsync(partition, fileId, TakeOverWait, context.RequestAborted).ConfigureAwait(false);
        if (!await _engine.DeleteAsync(partition, fileId, context, context.RequestAborted).ConfigureAwait(false))
        {
            throw new UploadException(UploadError.NotFound, "There is no such upload.");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Whether <paramref name="id"/> names an upload of this front in the caller's partition (expired ones included).</summary>
    public async ValueTask<bool> OwnsAsync(HttpContext context, string id)
    {
        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var (record, _) = await _engine.LookupAsync(partition, FileIdPrefix + id, context.RequestAborted).ConfigureAwait(false);
        return record is not null;
    }

    /// <summary>The headers an OPTIONS response adds for this draft: the limits, and (from draft-10) <c>Accept-Patch</c>.</summary>
    public void AddDiscoveryHeaders(HttpContext context)
    {
        var version = IetfVersion.Parse(context.Request.Headers[IetfHeaders.InteropVersion].FirstOrDefault());
        var headers = context.Response.Headers;
        headers[IetfHeaders.UploadLimit] = string.Create(CultureInfo.InvariantCulture, $"max-size={_engine.Options.MaxUploadSize}, {version.LifetimeKey}={(long)_engine.Options.IncompleteUploadExpiration.TotalSeconds}");
        headers["Accept-Patch"] = IetfHeaders.PartialUpload;
    }

    private async Task AppendEmptyAsync(HttpContext context, UploadRecord record, IetfVersion version, string? location)
    {
        var request = new AppendRequest(record.Partition, record.FileId, record.Offset, record.Length ?? record.Offset, 0, context) { AllowRestart = false };
        await _front.AppendAsync(context, request, completeWhenBodyEnds: true, checksum: null, plainTextConflict: false, appended =>
        {
            WriteResult(context, version, appended, creation: location is not null, location);
            return Task.CompletedTask;
        }, translate: ex => Translate(ex, version, record.Offset)).ConfigureAwait(false);
    }

    private async Task<UploadRecord> FindAsync(HttpContext context, string id, IetfVersion version, UploadOperation operation, bool takeOver)
    {
        var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
        var fileId = FileIdPrefix + id;
        await _engine.AuthorizeAsync(context, operation, partition, fileId).ConfigureAwait(false);
        if (takeOver)
        {
            // "If a HEAD, PATCH or DELETE arrives while an earlier request for the upload is still running, the
            // earlier request SHOULD be terminated first" — so the offset answered is never stale.
            await _engine.TakeOverAsync(partition, fileId, TakeOverWait, context.RequestAborted).ConfigureAwait(false);
        }

        var (record, expired) = await _engine.LookupAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
        if (record is null || (expired && !version.UsesGoneForExpired))
        {
            throw new UploadException(UploadError.NotFound, "There is no such upload.");
        }

        if (expired)
        {
            throw new UploadException(UploadError.Gone, "This upload has expired.");
        }

        return record;
    }

    /// <summary>Writes the final response of a creation or append, as the client's version expects it.</summary>
    private void WriteResult(HttpContext context, IetfVersion version, UploadRecord record, bool creation, string? location)
    {
        var response = context.Response;
        response.StatusCode = version.SuccessStatus(record.IsCompleted, creation);
        if (location is not null)
        {
            response.Headers.Location = location;
        }

        // Every version before 7 requires Upload-Offset here, and tus-js-client reads it in every version.
        response.Headers[IetfHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
        AddCompletion(response, version, record.IsCompleted);
        if (version.HasLimitsAndProblemTypes && !record.IsCompleted)
        {
            response.Headers[IetfHeaders.UploadLimit] = Limits(version, record);
        }
    }

    private static void AddCompletion(HttpResponse response, IetfVersion version, bool completed)
    {
        if (version.UsesUploadIncomplete)
        {
            response.Headers[IetfHeaders.UploadIncomplete] = IetfHeaders.Boolean(!completed);
        }
        else
        {
            response.Headers[IetfHeaders.UploadComplete] = IetfHeaders.Boolean(completed);
        }
    }

    private string Limits(IetfVersion version, UploadRecord record)
    {
        var remaining = Math.Max(0, (long)(record.ExpiresAt - _engine.Now).TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture, $"max-size={_engine.Options.MaxUploadSize}, {version.LifetimeKey}={remaining}");
    }

    /// <summary>
    /// What refusals carry besides the problem: <c>Upload-Limit</c> on a 413 (from 6), and for a request that said
    /// <c>Upload-Complete: ?0</c>, that header on any response (versions 6 and 7 require it "for success or failure").
    /// </summary>
    private void AddRefusalHeaders(HttpContext context, IetfVersion version)
    {
        if (!version.HasLimitsAndProblemTypes)
        {
            return;
        }

        var saidIncomplete = context.Request.Headers[IetfHeaders.UploadComplete] == "?0";
        var limits = string.Create(CultureInfo.InvariantCulture, $"max-size={_engine.Options.MaxUploadSize}");
        context.Response.OnStarting(() =>
        {
            var response = context.Response;
            if (response.StatusCode == StatusCodes.Status413PayloadTooLarge && !response.Headers.ContainsKey(IetfHeaders.UploadLimit))
            {
                response.Headers[IetfHeaders.UploadLimit] = limits;
            }

            if (saidIncomplete && version.Number <= 7 && !response.Headers.ContainsKey(IetfHeaders.UploadComplete))
            {
                response.Headers[IetfHeaders.UploadComplete] = "?0";
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>Echoes the interop version on every response, refusals included (added when the response starts).</summary>
    private static void AddVersion(HttpContext context, IetfVersion version)
    {
        if (version.IsKnown)
        {
            context.Response.OnStarting(static state =>
            {
                var (response, number) = ((HttpResponse, int))state;
                response.Headers[IetfHeaders.InteropVersion] = number.ToString(CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            }, (context.Response, version.Number));
        }
    }

    /// <summary>Gives the engine's refusals the status codes and problem types of the client's version.</summary>
    private static UploadException Translate(UploadException ex, IetfVersion version, long? provided)
    {
        if (ex.Error == UploadError.OffsetMismatch && ex.CurrentOffset is long expected)
        {
            return Mismatch(version, expected, provided ?? -1, ex.Message);
        }

        if (ex.Error == UploadError.LengthMismatch)
        {
            return InconsistentLength(version, ex.Message);
        }

        return ex;
    }

    private static UploadException Mismatch(IetfVersion version, long expected, long provided, string? detail = null)
        => new(UploadError.OffsetMismatch, detail ?? $"The upload is at {expected} bytes, not {provided}.")
        {
            CurrentOffset = expected,
            ProblemType = version.HasLimitsAndProblemTypes ? IetfHeaders.ProblemTypeBase + "mismatching-upload-offset" : null,
            Members = provided >= 0 ? [new("expected-offset", expected), new("provided-offset", provided)] : [new("expected-offset", expected)],
        };

    private static UploadException InconsistentLength(IetfVersion version, string detail)
        => new(UploadError.LengthMismatch, detail)
        {
            StatusCode = StatusCodes.Status400BadRequest,
            ProblemType = version.Number >= 7 ? IetfHeaders.ProblemTypeBase + "inconsistent-upload-length" : null,
        };

    /// <summary>RFC 9530: a <c>Content-Digest</c> covers the request's body; a body that does not match is not appended.</summary>
    private static ChunkChecksum? ReadDigest(HttpRequest request)
        => IetfHeaders.ReadContentDigest(request) is { } digest ? ChunkChecksum.ForKnown(digest.Algorithm, digest.Digest) : null;
}
