using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Protocols.Tus;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// Serves <c>{prefix}/status</c>, <c>{prefix}/upload</c> and (when enabled) <c>{prefix}/download</c>, and tus and the
/// IETF draft at <c>{prefix}</c> (requests carrying their headers, and <c>OPTIONS</c>) and <c>{prefix}/{32 hex}</c>; every other
/// request goes straight to the next middleware. Paths match case-insensitively, as routing does.
/// </summary>
internal sealed class ResumableUploadMiddleware
{
    private readonly RequestDelegate _next;
    private readonly XFileIdProtocolHandler _handler;
    private readonly ResumableProtocolRouter _protocols;
    private readonly PathString _prefix;

    public ResumableUploadMiddleware(RequestDelegate next, XFileIdProtocolHandler handler, ResumableProtocolRouter protocols, PathString prefix)
    {
        _next = next;
        _handler = handler;
        _protocols = protocols;
        _prefix = prefix;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments(_prefix, StringComparison.OrdinalIgnoreCase, out var rest))
        {
            return _next(context);
        }

        var method = context.Request.Method;
        if (rest.Equals(Routes.Status, StringComparison.OrdinalIgnoreCase))
        {
            return HttpMethods.IsGet(method) || HttpMethods.IsHead(method)
                ? _handler.HandleStatusAsync(context)
                : UploadFront.MethodNotAllowedAsync(context, "GET, HEAD");
        }

        if (rest.Equals(Routes.Upload, StringComparison.OrdinalIgnoreCase))
        {
            return HttpMethods.IsPost(method)
                ? _handler.HandleUploadAsync(context)
                : UploadFront.MethodNotAllowedAsync(context, "POST");
        }

        if (_handler.DownloadEnabled && rest.Equals(Routes.Download, StringComparison.OrdinalIgnoreCase))
        {
            return HttpMethods.IsGet(method) || HttpMethods.IsHead(method)
                ? _handler.HandleDownloadAsync(context)
                : UploadFront.MethodNotAllowedAsync(context, "GET, HEAD");
        }

        if (_protocols.AnyEnabled)
        {
            if (!rest.HasValue || rest.Value == "/")
            {
                if (_protocols.ClaimsCollectionRequest(context.Request))
                {
                    return _protocols.HandleCollectionAsync(context);
                }
            }
            else if (rest.Value!.LastIndexOf('/') == 0 && TusProtocolHandler.IsUploadId(rest.Value.AsSpan(1)))
            {
                var isPreflight = HttpMethods.IsOptions(method) && context.Request.Headers.ContainsKey("Access-Control-Request-Method");
                if (!isPreflight)
                {
                    return _protocols.HandleUploadAsync(context, rest.Value[1..]);
                }
            }
        }

        return _next(context);
    }

    internal static class Routes
    {
        public static readonly PathString Status = "/status";
        public static readonly PathString Upload = "/upload";
        public static readonly PathString Download = "/download";
    }
}
