using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using ResumableUpload.Middleware.Engine;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// The one place that turns failures into HTTP responses (RFC 9457 problem details, <c>application/problem+json</c>).
/// <list type="table">
/// <item><term>400</term><description>a header is missing or malformed (the <c>header</c> member names it)</description></item>
/// <item><term>403</term><description>the partition resolver refused the request</description></item>
/// <item><term>404</term><description>no such finished upload (download)</description></item>
/// <item><term>409</term><description>start byte or declared length conflicts with the stored upload; <c>Upload-Offset</c> carries the stored count</description></item>
/// <item><term>413</term><description>past the declared length or the maximum upload size</description></item>
/// <item><term>423</term><description>another request is writing this upload</description></item>
/// <item><term>410</term><description>the upload expired or was removed (tus)</description></item>
/// <item><term>412 / 415</term><description>unsupported tus version / wrong body content type (tus)</description></item>
/// <item><term>460</term><description>checksum mismatch (tus); the chunk is discarded</description></item>
/// <item><term>503 / 507</term><description>a store failed / is out of space</description></item>
/// </list>
/// </summary>
internal static class ProblemResponses
{
    public const string ProblemTypeBase = "urn:resumable-upload:problem:";

    public static int StatusCodeOf(UploadException exception) => exception.StatusCode ?? exception.Error switch
    {
        UploadError.InvalidHeader => StatusCodes.Status400BadRequest,
        UploadError.Forbidden => StatusCodes.Status403Forbidden,
        UploadError.NotFound => StatusCodes.Status404NotFound,
        UploadError.OffsetMismatch or UploadError.LengthMismatch or UploadError.AlreadyCompleted => StatusCodes.Status409Conflict,
        UploadError.TooLarge => StatusCodes.Status413PayloadTooLarge,
        UploadError.Locked => StatusCodes.Status423Locked,
        UploadError.Rejected => StatusCodes.Status403Forbidden,
        UploadError.InsufficientStorage => StatusCodes.Status507InsufficientStorage,
        UploadError.Gone => StatusCodes.Status410Gone,
        UploadError.UnsupportedVersion => StatusCodes.Status412PreconditionFailed,
        UploadError.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        UploadError.ChecksumMismatch => 460,
        UploadError.Superseded => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status503ServiceUnavailable,
    };

    private static string TitleOf(UploadError error) => error switch
    {
        UploadError.InvalidHeader => "Invalid header",
        UploadError.Forbidden => "Forbidden",
        UploadError.NotFound => "Upload not found",
        UploadError.OffsetMismatch => "Start byte does not match the stored bytes",
        UploadError.LengthMismatch => "Declared length does not match the upload",
        UploadError.AlreadyCompleted => "Upload already completed",
        UploadError.TooLarge => "Upload too large",
        UploadError.Locked => "Upload is being written",
        UploadError.Rejected => "Request rejected",
        UploadError.InsufficientStorage => "Insufficient storage",
        UploadError.Gone => "Upload gone",
        UploadError.UnsupportedVersion => "Unsupported protocol version",
        UploadError.UnsupportedMediaType => "Unsupported media type",
        UploadError.ChecksumMismatch => "Checksum mismatch",
        UploadError.Superseded => "Superseded by a newer request",
        _ => "Storage unavailable",
    };

    private static string TypeOf(UploadError error) => error switch
    {
        UploadError.InvalidHeader => "invalid-header",
        UploadError.Forbidden => "forbidden",
        UploadError.NotFound => "not-found",
        UploadError.OffsetMismatch => "offset-mismatch",
        UploadError.LengthMismatch => "length-mismatch",
        UploadError.AlreadyCompleted => "completed-upload",
        UploadError.TooLarge => "too-large",
        UploadError.Locked => "locked",
        UploadError.Rejected => "rejected",
        UploadError.InsufficientStorage => "insufficient-storage",
        UploadError.Gone => "gone",
        UploadError.UnsupportedVersion => "unsupported-version",
        UploadError.UnsupportedMediaType => "unsupported-media-type",
        UploadError.ChecksumMismatch => "checksum-mismatch",
        UploadError.Superseded => "superseded",
        _ => "storage-unavailable",
    };

    /// <summary>Writes the problem response, unless the response has started (then the connection is aborted).</summary>
    public static async Task WriteAsync(HttpContext context, UploadException exception, bool closeConnection = false, bool plainTextConflict = true)
    {
        var status = StatusCodeOf(exception);
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        var response = context.Response;
        response.Clear();
        response.StatusCode = status;
        response.Headers.CacheControl = "no-store";
        if (closeConnection)
        {
            response.Headers.Connection = "close";
        }

        if (exception.CurrentOffset is long offset)
        {
            response.Headers[UploadHeaders.UploadOffset] = offset.ToString(CultureInfo.InvariantCulture);
        }

        if (status == StatusCodes.Status423Locked || status == StatusCodes.Status503ServiceUnavailable)
        {
            response.Headers.RetryAfter = "1";
        }

        // The seed protocol's conflict answer is the stored count as plain text (what a resuming client parses);
        // clients that ask for problem details get them.
        if (plainTextConflict && exception.Error == UploadError.OffsetMismatch && exception.CurrentOffset is long count && !AcceptsProblemJson(context.Request))
        {
            var text = count.ToString(CultureInfo.InvariantCulture);
            response.ContentType = "text/plain; charset=utf-8";
            response.ContentLength = text.Length;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
            }
            return;
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        response.ContentType = "application/problem+json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", exception.ProblemType ?? ProblemTypeBase + TypeOf(exception.Error));
            json.WriteString("title", TitleOf(exception.Error));
            json.WriteNumber("status", status);
            json.WriteString("detail", exception.Message);
            if (exception.Header is not null)
            {
                json.WriteString("header", exception.Header);
            }

            if (exception.CurrentOffset is long current)
            {
                json.WriteNumber("offset", current);
            }

            foreach (var (name, value) in exception.Members ?? [])
            {
                json.WriteNumber(name, value);
            }

            json.WriteEndObject();
        }

        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static bool AcceptsProblemJson(HttpRequest request)
    {
        foreach (var value in request.Headers.Accept)
        {
            if (value is not null && (value.Contains("application/problem+json", StringComparison.OrdinalIgnoreCase) || value.Contains("application/json", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }
}
