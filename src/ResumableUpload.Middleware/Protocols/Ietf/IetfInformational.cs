using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Http.Informational;

namespace ResumableUpload.Middleware.Protocols.Ietf;

/// <summary>
/// Sends the draft's <c>104 (Upload Resumption Supported)</c> where the server can: HTTP/1.1 on a Kestrel listener
/// with <c>UseResumableUploadInformationalResponses()</c>. Elsewhere nothing is sent and the client learns the upload's
/// URL from the final response (careful creation).
/// </summary>
internal static class IetfInformational
{
    public static ValueTask<bool> TrySendAsync(HttpContext context, IReadOnlyList<KeyValuePair<string, string>> headers)
        => context.TrySendInformationalAsync(
            InformationalResponseHttpContextExtensions.UploadResumptionSupported,
            InformationalResponseHttpContextExtensions.UploadResumptionSupportedReason,
            headers,
            context.RequestAborted);
}
