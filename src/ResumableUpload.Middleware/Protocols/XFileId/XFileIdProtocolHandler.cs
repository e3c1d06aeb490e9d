using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
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
    private readonly UploadFront _front;
    private readonly UploadEngine _engine;

    public XFileIdProtocolHandler(UploadFront front)
    {
        _front = front;
        _engine = front.Engine;
    }

    public bool DownloadEnabled => _engine.Options.EnableDownload;

    /// <summary><c>GET|HEAD {prefix}/status</c> with <c>X-File-Id</c>: 200, the stored count as decimal text (0 when unknown).</summary>
    public async Task HandleStatusAsync(HttpContext context)
    {
        using var activity = _engine.Diagnostics.ActivitySource.StartActivity("ResumableUpload.Status");
        try
        {
            var fileId = XFileIdHeaders.ReadFileId(context.Request, _engine.Options.MaxFileIdLength);
            var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
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
            await _front.RefuseAsync(context, ex, plainTextConflict: true).ConfigureAwait(false);
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
        AppendRequest appendRequest;
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

            var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
            await _engine.AuthorizeAsync(context, UploadOperation.Append, partition, fileId).ConfigureAwait(false);
            activity?.SetTag("resumable_upload.start_offset", startByte);
            appendRequest = new AppendRequest(partition, fileId, startByte, fileSize, request.ContentLength, context);
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, ex, plainTextConflict: true).ConfigureAwait(false);
            return;
        }

        await _front.AppendAsync(context, appendRequest, completeWhenBodyEnds: true, checksum: null, plainTextConflict: true, record =>
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.Headers.CacheControl = "no-store";
            response.Headers[UploadHeaders.UploadOffset] = record.Offset.ToString(CultureInfo.InvariantCulture);
            response.Headers[UploadHeaders.UploadComplete] = record.IsCompleted ? "?1" : "?0";
            return WriteTextAsync(context, record.Offset);
        }).ConfigureAwait(false);
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

            var partition = await _front.ResolvePartitionAsync(context).ConfigureAwait(false);
            await _engine.AuthorizeAsync(context, UploadOperation.Download, partition, fileId).ConfigureAwait(false);
            var record = await _engine.FindAsync(partition, fileId, context.RequestAborted).ConfigureAwait(false)
                         ?? throw new UploadException(UploadError.NotFound, "There is no finished upload with this id.");
            await _front.SendFileAsync(context, record).ConfigureAwait(false);
        }
        catch (UploadException ex)
        {
            await _front.RefuseAsync(context, ex, plainTextConflict: true).ConfigureAwait(false);
        }
    }

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
