using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage;
using MinDataRate = Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// What every protocol front does the same way over HTTP: resolve the partition, stream an append with the
/// per-request limits and map its failures, refuse with problem details, send a finished file.
/// </summary>
internal sealed class UploadFront
{
    /// <summary>Refused bodies up to this size are drained so the connection can be reused; larger ones close it.</summary>
    private const long UnreadBodyKeepAliveLimit = 64 * 1024;

    private readonly IUploadPartitionResolver _partitions;
    private readonly ILogger _logger;

    public UploadFront(UploadEngine engine, IUploadPartitionResolver partitions, ILogger<UploadFront> logger)
    {
        Engine = engine;
        _partitions = partitions;
        _logger = logger;
    }

    public UploadEngine Engine { get; }

    public async ValueTask<string> ResolvePartitionAsync(HttpContext context)
        => await _partitions.ResolvePartitionAsync(context).ConfigureAwait(false)
           ?? throw new UploadException(UploadError.Forbidden, "This request may not use resumable uploads.");

    /// <summary>
    /// Takes the upload's lock, streams the request body into it and calls <paramref name="respond"/> with the
    /// result. Failures are answered here: refusals with problem details, a vanished client with nothing (its
    /// bytes are kept).
    /// </summary>
    public async Task AppendAsync(HttpContext context, AppendRequest request, bool completeWhenBodyEnds, ChunkChecksum? checksum, bool plainTextConflict, Func<UploadRecord, Task> respond, Func<Task>? onFailure = null, Func<UploadException, UploadException>? translate = null)
    {
        AppendSession? session = null;
        var succeeded = false;
        try
        {
            session = await Engine.BeginAppendAsync(request, context.RequestAborted).ConfigureAwait(false);
            System.Diagnostics.Activity.Current?.SetTag("resumable_upload.key", session.Record.Key);

            // A known body length was checked against the room left by the engine; a chunked body is cut at the
            // exact limit by the engine itself, so Kestrel's own limit must not cut it earlier.
            ApplyRequestLimits(context, context.Request.ContentLength is null || session.Record.IsCompleted ? null : session.RemainingCapacity);

            var record = await session.AppendAsync(context.Request.BodyReader, completeWhenBodyEnds, context.RequestAborted, checksum).ConfigureAwait(false);
            System.Diagnostics.Activity.Current?.SetTag("resumable_upload.offset", record.Offset);
            succeeded = true;
            await respond(record).ConfigureAwait(false);
        }
        catch (UploadException ex) when (ex.Error == UploadError.Superseded)
        {
            // The newer request answers the client; this one just ends.
            Log.RequestRefused(_logger, 0, ex.Message);
            context.Abort();
        }
        catch (UploadException ex)
        {
            await FailedAsync().ConfigureAwait(false);
            if (ex.Error is not (UploadError.OffsetMismatch or UploadError.LengthMismatch or UploadError.Locked or UploadError.InvalidHeader or UploadError.Forbidden or UploadError.Rejected or UploadError.NotFound or UploadError.ChecksumMismatch))
            {
                Engine.Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", ex.Error.ToString()));
            }

            await RefuseAsync(context, translate?.Invoke(ex) ?? ex, plainTextConflict).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await FailedAsync().ConfigureAwait(false);
            Engine.Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", nameof(UploadError.TooLarge)));
            var tooLarge = new UploadException(UploadError.TooLarge, "The body goes past the declared length or the maximum upload size.", ex)
            {
                CurrentOffset = session?.Record.Offset,
            };
            await RefuseAsync(context, translate?.Invoke(tooLarge) ?? tooLarge, plainTextConflict).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsClientGone(context, ex))
        {
            await FailedAsync().ConfigureAwait(false);
            Engine.Diagnostics.ClientDisconnects.Add(1);
            Log.ClientDisconnected(_logger, session?.Record.Key ?? "(none)", session?.Record.Offset ?? 0);
            if (!context.RequestAborted.IsCancellationRequested)
            {
                if (ex is BadHttpRequestException bad && !context.Response.HasStarted)
                {
                    // For example a body slower than the minimum data rate (408) or cut short (400).
                    context.Response.StatusCode = bad.StatusCode;
                }
                else
                {
                    // Never let the server's default 200 stand for an append that did not finish: the client asks
                    // for the offset and resumes.
                    context.Abort();
                }
            }
        }
        finally
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }

        // Runs before the refusal is written (and after the lock is released), so the client sees its effect.
        async Task FailedAsync()
        {
            if (onFailure is null || succeeded)
            {
                return;
            }

            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
                session = null;
            }

            try
            {
                await onFailure().ConfigureAwait(false);
            }
            catch (Exception cleanupFailure)
            {
                // The refusal still goes out; whatever was left behind expires.
                Log.StoreFailed(_logger, session?.Record.Key, cleanupFailure);
            }
        }
    }

    /// <summary>Sends a finished upload's bytes, with Range, If-Range and conditional-request support.</summary>
    public async Task SendFileAsync(HttpContext context, UploadRecord record)
    {
        if (!record.IsCompleted)
        {
            throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
        }

        Stream? stream;
        try
        {
            stream = await Engine.DataStore.OpenReadAsync(record.Key, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, context.RequestAborted))
        {
            throw Engine.StoreFailure(record.Key, ex);
        }

        if (stream is null)
        {
            throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
        }

        try
        {
            context.Response.Headers.CacheControl = "private, no-cache";
            var etag = new EntityTagHeaderValue($"\"{record.Key[..16]}-{record.Length}-{record.UpdatedAt.ToUnixTimeMilliseconds()}\"");
            var result = Results.Stream(stream, "application/octet-stream", fileDownloadName: null, lastModified: record.UpdatedAt, entityTag: etag, enableRangeProcessing: true);
            await result.ExecuteAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is IOException or OperationCanceledException)
        {
            // The client went away while the file was being sent.
        }
        catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, context.RequestAborted))
        {
            // The store failed while the file was read (an object store lost or replaced the object): a 503 when
            // nothing was sent yet, else the connection is cut so the client does not take a short file for a whole one.
            if (context.Response.HasStarted)
            {
                Log.StoreFailed(_logger, record.Key, ex);
                context.Abort();
                return;
            }

            throw Engine.StoreFailure(record.Key, ex);
        }
    }

    /// <summary>Answers a refusal with problem details (see <see cref="ProblemResponses"/>).</summary>
    /// <param name="context">The request.</param>
    /// <param name="ex">The refusal.</param>
    /// <param name="plainTextConflict">Whether an offset conflict is answered with the stored count as plain text (the X-File-Id protocol's convention).</param>
    public async Task RefuseAsync(HttpContext context, UploadException ex, bool plainTextConflict)
    {
        Log.RequestRefused(_logger, ProblemResponses.StatusCodeOf(ex), ex.Message);

        // The rest of a large or open-ended body is not wanted, but a client (or a proxy such as nginx) that is still
        // sending it must receive the answer: it is sent first, then up to RefusedBodyDrainLimit bytes of the body are
        // read and discarded, then the connection is closed. Closing at once, with body bytes unread, resets the
        // connection, and the client (or nginx, which then answers 502) may never see the answer.
        var request = context.Request;
        var canHaveBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0;
        var closeConnection = canHaveBody && request.ContentLength is null or > UnreadBodyKeepAliveLimit;
        var options = Engine.Options;
        var drain = canHaveBody
                    && !context.RequestAborted.IsCancellationRequested
                    && !context.Response.HasStarted
                    && options.RefusedBodyDrainLimit > 0
                    && options.RefusedBodyDrainTimeout > TimeSpan.Zero
                    && (request.ContentLength is null || request.ContentLength <= options.RefusedBodyDrainLimit);
        await ProblemResponses.WriteAsync(context, ex, closeConnection, plainTextConflict).ConfigureAwait(false);
        if (drain)
        {
            await DrainAsync(context, options.RefusedBodyDrainLimit, options.RefusedBodyDrainTimeout).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends the answer already written, then reads and discards the rest of the request body: at most
    /// <paramref name="limit"/> bytes within <paramref name="timeout"/>. A body that goes on longer is cut off by
    /// aborting the connection.
    /// </summary>
    private async Task DrainAsync(HttpContext context, long limit, TimeSpan timeout)
    {
        long drained = 0;
        try
        {
            await context.Response.CompleteAsync().ConfigureAwait(false);

            // The body-size limit set for the append (or Kestrel's default) would cut the drain short: the bound
            // here is the drain's own.
            var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (sizeFeature is { IsReadOnly: false })
            {
                sizeFeature.MaxRequestBodySize = null;
            }

            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            bounded.CancelAfter(timeout);
            var reader = context.Request.BodyReader;
            while (drained <= limit)
            {
                var result = await reader.ReadAsync(bounded.Token).ConfigureAwait(false);
                drained += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    Log.RefusedBodyDrained(_logger, drained);
                    return;
                }

                if (result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException or InvalidOperationException)
        {
            // Timed out, too long, cut short, or the body was already consumed: close as below.
        }

        context.Abort();
    }

    /// <summary>Whether the request carries a body with at least one byte (or one whose length is not known yet).</summary>
    public static bool HasBody(HttpContext context)
        => context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true && context.Request.ContentLength != 0;

    /// <summary>Whether the request's <c>Content-Type</c> is <paramref name="mediaType"/>, parameters aside.</summary>
    public static bool HasMediaType(HttpRequest request, string mediaType)
        => request.ContentType is { } type && type.Split(';')[0].Trim().Equals(mediaType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Answers 405 with <c>Allow</c> for a known path and an unsupported method.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        context.Response.Headers.Allow = allow;
        return Task.CompletedTask;
    }

    private void ApplyRequestLimits(HttpContext context, long? maxBodySize)
    {
        // Per request, so the host never has to switch Kestrel's body-size limit off for the whole app.
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = maxBodySize;
        }

        var rateFeature = context.Features.Get<IHttpMinRequestBodyDataRateFeature>();
        if (rateFeature is not null)
        {
            var options = Engine.Options;
            rateFeature.MinDataRate = options.MinimumBodyDataRate > 0
                ? new MinDataRate(options.MinimumBodyDataRate, options.MinimumBodyDataRateGracePeriod)
                : null;
        }
    }

    private static bool IsClientGone(HttpContext context, Exception ex)
        => context.RequestAborted.IsCancellationRequested
           || ex is IOException or BadHttpRequestException or OperationCanceledException;
}
