using Microsoft.AspNetCore.Http;

namespace ResumableUpload.Middleware.Http.Informational;

/// <summary>Sends informational (1xx) responses from request handlers, when the listener allows it.</summary>
internal static class InformationalResponseHttpContextExtensions
{
    /// <summary>The IETF resumable-uploads draft's informational status.</summary>
    public const int UploadResumptionSupported = 104;

    /// <summary>Its reason phrase.</summary>
    public const string UploadResumptionSupportedReason = "Upload Resumption Supported";

    /// <summary>
    /// Sends <c>HTTP/1.1 {statusCode} {reasonPhrase}</c> with <paramref name="headers"/> ahead of the final response.
    /// Call it before the response starts and before reading the request body (so it precedes Kestrel's
    /// <c>100 Continue</c>), and not concurrently with other work on the request.
    /// </summary>
    /// <returns>
    /// <see langword="true"/> when it was sent. <see langword="false"/>, with nothing written, when it cannot be: the
    /// listener lacks <c>UseResumableUploadInformationalResponses()</c> (or the server is not Kestrel), the request is
    /// not HTTP/1.1, the response has started, the connection's output is busy, or the reason or a header (name or
    /// value) is malformed, for example contains CR or LF. Callers carry on without it.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="statusCode"/> is not 102 to 199.</exception>
    public static ValueTask<bool> TrySendInformationalAsync(
        this HttpContext context,
        int statusCode,
        string reasonPhrase,
        IEnumerable<KeyValuePair<string, string>> headers,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(reasonPhrase);
        ArgumentNullException.ThrowIfNull(headers);
        InformationalResponseFormat.ValidateStatusCode(statusCode);

        // A 1xx must not go to an HTTP/1.0 client (RFC 9110, 15.2); HTTP/2 and HTTP/3 have their own framing.
        if (!HttpProtocol.IsHttp11(context.Request.Protocol) || context.Response.HasStarted)
        {
            return new ValueTask<bool>(false);
        }

        var feature = context.Features.Get<IInformationalResponseFeature>();
        if (feature is null)
        {
            return new ValueTask<bool>(false);
        }

        var response = context.Response;
        return feature.TrySendAsync(
            statusCode,
            reasonPhrase,
            headers,
            () => !response.HasStarted,
            cancellationToken.CanBeCanceled ? cancellationToken : context.RequestAborted);
    }
}
