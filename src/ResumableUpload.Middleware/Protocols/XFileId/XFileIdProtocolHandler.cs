using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using MinDataRate = Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Http;

namespace ResumableUpload.Middleware.Protocols.XFileId;

/// <summary>
/// The X-File-Id protocol front (the classic browser resumable-upload pattern): translates
/// <c>GET|HEAD status</c>, <c>POST upload</c> and <c>GET|HEAD download</c> into engine calls and engine results back
/// into HTTP. No storage logic here.
/// </summary>
internal sealed class XFileIdProtocolHandler
{
    private readonly UploadEngine _engine;
    private readonly IUploadPartitionResolver _partitions;
    private readonly ILogger _logger;

    public XFileIdProtocolHandler(UploadEngine engine, IUploadPartitionResolver partitions, ILogger<XFileIdProtocolHandler> logger)
    {
        _engine = engine;
        _partitions = partitions;
        _logger = logger;
    }

    /// <summary>Refused bodies up to this size are drained so the connection can be reused; larger ones close it.</summary>
    private const long UnreadBodyKeepAliveLimit = 64 * 1024;

    public bool DownloadEnabled => _engine.Options.EnableDownload;

    /// <summary><c>GET|HEAD {prefix}/status</c> with <c>X-File-Id</c>: 200, the stored count as decimal text (0 when unknown).</summary>
    public async Task HandleStatusAsync(HttpContext context)
    {
        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Status");
        try
        {
            var fileId = XFileIdHeaders.ReadFileId(context.Request, _engine.Options.MaxFileIdLength);
            var partition = await ResolvePartitionAsync(context).ConfigureAwait(false);
            await _engine.AuthorizeAsync(context, UploadOperation.Status, partition, fileId).ConfigureAwait(false);
            var record = await _engine.FindAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
            var count = record?.Offset ?? 0;
            activity?.SetTag("resumable_upload.offset", count);

            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.Headers.CacheControl = "no-store";
            response.Headers[UploadHeaders.UploadOffset] = count.ToString(CultureInfo.InvariantCulture);
            if (record?.Length is long length)
            {
                response.Headers[UploadHeaders.UploadLength] = length.ToString(CultureInfo.InvariantCulture);
            }

            if (record is not null)
            {
                response.Headers[UploadHeaders.UploadComplete] = record.IsCompleted ? "?1" : "?0";
            }

            await WriteTextAsync(context, count).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            await RefuseAsync(context, ex).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
    }

    /// <summary>
    /// <c>POST {prefix}/upload</c> with <c>X-File-Id</c>, <c>X-Start-Byte</c> (absent: 0) and optional <c>X-File-Size</c>:
    /// appends the body when the start byte equals the stored count, restarts at 0, else 409 with the stored count.
    /// </summary>
    public async Task HandleUploadAsync(HttpContext context)
    {
        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Append");
        AppendSession? session = null;
        try
        {
            var request = context.Request;
            var options = _engine.Options;
            var fileId = XFileIdHeaders.ReadFileId(request, options.MaxFileIdLength);
            var startByte = XFileIdHeaders.ReadOptionalNumber(request, UploadHeaders.StartByte) ?? 0;
            var fileSize = XFileIdHeaders.ReadOptionalNumber(request, UploadHeaders.FileSize);
            if (fileSize is long size && startByte > size)
            {
                throw new UploadException(UploadError.InvalidHeader, $"X-Start-Byte ({startByte}) is past X-File-Size ({size}).") { Header = UploadHeaders.StartByte };
            }

            if (startByte > options.MaxUploadSize)
            {
                throw new UploadException(UploadError.TooLarge, $"X-Start-Byte ({startByte}) is past the maximum upload size of {options.MaxUploadSize} bytes.");
            }

            var partition = await ResolvePartitionAsync(context).ConfigureAwait(false);
            await _engine.AuthorizeAsync(context, UploadOperation.Append, partition, fileId).ConfigureAwait(false);

            session = await _engine.BeginAppendAsync(new AppendRequest(partition, fileId, startByte, fileSize, request.ContentLength, context), context.RequestAborted).ConfigureAwait(false);
            activity?.SetTag("resumable_upload.key", session.Record.Key);
            activity?.SetTag("resumable_upload.start_offset", startByte);

            // A known body length was checked against the room left by the engine; a chunked body is cut at the
            // exact limit by the engine itself, so Kestrel's own limit must not cut it earlier.
            ApplyRequestLimits(context, request.ContentLength is null || session.Record.IsCompleted ? null : session.RemainingCapacity);

            var record = await session.AppendAsync(request.BodyReader, completeWhenBodyEnds: true, context.RequestAborted).ConfigureAwait(false);
            activity?.SetTag("resumable_upload.offset", record.Offset);

            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.Headers.CacheControl = "no-store";
            response.Headers[UploadHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
            response.Headers[UploadHeaders.UploadComplete] = record.IsCompleted ? "?1" : "?0";
            await WriteTextAsync(context, record.Offset).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            if (ex.Error is not (UploadError.OffsetMismatch or UploadError.LengthMismatch or UploadError.Locked or UploadError.InvalidHeader or UploadError.Forbidden or UploadError.Rejected))
            {
                _engine.Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", ex.Error.ToString()));
            }

            await RefuseAsync(context, ex).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            _engine.Diagnostics.UploadsFailed.Add(1, new KeyValuePair<string, object?>("error.type", nameof(UploadError.TooLarge)));
            await RefuseAsync(context, new UploadException(UploadError.TooLarge, "The body goes past the declared length or the maximum upload size; the bytes up to the limit are kept.", ex)
            {
                CurrentOffset = session?.Record.Offset,
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsClientGone(context, ex))
        {
            _engine.Diagnostics.ClientDisconnects.Add(1);
            Log.ClientDisconnected(_logger, session?.Record.Key ?? "(none)", session?.Record.Offset ?? 0);
            if (ex is BadHttpRequestException bad && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                // For example a body slower than the minimum data rate (408) or cut short (400).
                context.Response.StatusCode = bad.StatusCode;
            }
        }
        finally
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary><c>GET|HEAD {prefix}/download</c> with <c>X-File-Id</c> (or <c>?fileId=</c>): a finished upload's bytes, with Range support.</summary>
    public async Task HandleDownloadAsync(HttpContext context)
    {
        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Download");
        try
        {
            var request = context.Request;
            var maxLength = _engine.Options.MaxFileIdLength;
            string fileId;
            if (request.Headers.ContainsKey(UploadHeaders.FileId))
            {
                fileId = XFileIdHeaders.ReadFileId(request, maxLength);
            }
            else
            {
                var values = request.Query["fileId"];
                if (values.Count != 1 || string.IsNullOrEmpty(values[0]))
                {
                    throw new UploadException(UploadError.InvalidHeader, "Name the upload with one X-File-Id header or one fileId query parameter.") { Header = UploadHeaders.FileId };
                }

                fileId = XFileIdHeaders.ValidateFileId(values[0]!, maxLength, "fileId");
            }

            var partition = await ResolvePartitionAsync(context).ConfigureAwait(false);
            await _engine.AuthorizeAsync(context, UploadOperation.Download, partition, fileId).ConfigureAwait(false);
            var record = await _engine.FindAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false);
            if (record is null || !record.IsCompleted)
            {
                throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
            }

            Stream? stream;
            try
            {
                stream = await _engine.DataStore.OpenReadAsync(record.Key, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (UploadEngine.IsStoreFailure(ex, context.RequestAborted))
            {
                throw _engine.StoreFailure(record.Key, ex);
            }

            if (stream is null)
            {
                throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
            }
            context.Response.Headers.CacheControl = "private, no-cache";
            var etag = new EntityTagHeaderValue($"\"{record.Key[..16]}-{record.Length}-{record.UpdatedAt.ToUnixTimeMilliseconds()}\"");
            var result = Results.Stream(stream, "application/octet-stream", fileDownloadName: null, lastModified: record.UpdatedAt, entityTag: etag, enableRangeProcessing: true);
            await result.ExecuteAsync(context).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            await RefuseAsync(context, ex).ConfigureAwait(false);
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is IOException or OperationCanceledException)
        {
            // The client went away while the file was being sent.
        }
    }

    /// <summary>Answers 405 with <c>Allow</c> for a known path and an unsupported method.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        context.Response.Headers.Allow = allow;
        return Task.CompletedTask;
    }

    private async ValueTask<string> ResolvePartitionAsync(HttpContext context)
        => await _partitions.ResolvePartitionAsync(context).ConfigureAwait(false)
           ?? throw new UploadException(UploadError.Forbidden, "This request may not use resumable uploads.");

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
            var options = _engine.Options;
            rateFeature.MinDataRate = options.MinimumBodyDataRate > 0
                ? new MinDataRate(options.MinimumBodyDataRate, options.MinimumBodyDataRateGracePeriod)
                : null;
        }
    }

    private async Task RefuseAsync(HttpContext context, UploadException ex)
    {
        Log.RequestRefused(_logger, ProblemResponses.StatusCodeOf(ex), ex.Message);
        // The rest of a large or open-ended body is not wanted: close the connection after the answer instead of
        // reading and discarding it.
        var request = context.Request;
        var closeConnection = HttpMethods.IsPost(request.Method) && request.ContentLength is null or > UnreadBodyKeepAliveLimit;

        await ProblemResponses.WriteAsync(context, ex, closeConnection).ConfigureAwait(false);
    }

    private static bool IsClientGone(HttpContext context, Exception ex)
        => context.RequestAborted.IsCancellationRequested
           || ex is IOException or BadHttpRequestException or OperationCanceledException;

    private static Task WriteTextAsync(HttpContext context, long count)
    {
        var text = count.ToString(CultureInfo.InvariantCulture);
        var response = context.Response;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = text.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.WriteAsync(text, Encoding.ASCII, context.RequestAborted);
    }
}
