using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// Serves <c>{prefix}/status</c>, <c>{prefix}/upload</c> and (when enabled) <c>{prefix}/download</c>; every other
/// request goes straight to the next middleware. Paths match case-insensitively, as routing does.
/// </summary>
internal sealed class ResumableUploadMiddleware
{
    private readonly RequestDelegate _next;
    private readonly XFileIdProtocolHandler _handler;
    private readonly PathString _prefix;

    public ResumableUploadMiddleware(RequestDelegate next, XFileIdProtocolHandler handler, PathString prefix)
    {
        _next = next;
        _handler = handler;
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
                : XFileIdProtocolHandler.MethodNotAllowedAsync(context, "GET, HEAD");
        }

        if (rest.Equals(Routes.Upload, StringComparison.OrdinalIgnoreCase))
        {
            return HttpMethods.IsPost(method)
                ? _handler.HandleUploadAsync(context)
                : XFileIdProtocolHandler.MethodNotAllowedAsync(context, "POST");
        }

        if (_handler.DownloadEnabled && rest.Equals(Routes.Download, StringComparison.OrdinalIgnoreCase))
        {
            return HttpMethods.IsGet(method) || HttpMethods.IsHead(method)
                ? _handler.HandleDownloadAsync(context)
                : XFileIdProtocolHandler.MethodNotAllowedAsync(context, "GET, HEAD");
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
