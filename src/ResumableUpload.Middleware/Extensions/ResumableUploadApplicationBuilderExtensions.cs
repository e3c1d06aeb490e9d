using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Http;
using ResumableUpload.Middleware.Protocols.Tus;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Puts resumable uploads into a request pipeline.</summary>
public static class ResumableUploadApplicationBuilderExtensions
{
    /// <summary>
    /// Serves the X-File-Id protocol at <c>{pathPrefix}/status</c> (GET, HEAD), <c>{pathPrefix}/upload</c> (POST) and,
    /// when <c>EnableDownload</c> is on, <c>{pathPrefix}/download</c> (GET, HEAD). Other requests pass through.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="pathPrefix">The path the endpoints live under, for example <c>/files</c>; empty for the root.</param>
    /// <exception cref="InvalidOperationException">When <c>services.AddResumableUploads()</c> was not called.</exception>
    public static IApplicationBuilder UseResumableUploads(this IApplicationBuilder app, PathString pathPrefix = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        ResumableUploadEndpointRouteBuilderExtensions.EnsureRegistered(app.ApplicationServices);
        var prefix = pathPrefix.HasValue && pathPrefix.Value != "/" ? new PathString(pathPrefix.Value!.TrimEnd('/')) : PathString.Empty;
        return app.UseMiddleware<ResumableUploadMiddleware>(prefix);
    }
}

/// <summary>Maps resumable uploads as endpoints, so authorization, rate limiting and CORS compose.</summary>
public static class ResumableUploadEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>{pattern}/status</c> (GET, HEAD), <c>{pattern}/upload</c> (POST) and <c>{pattern}/download</c> (GET, HEAD;
    /// 404 unless <c>EnableDownload</c> is on) for the X-File-Id protocol, and tus 1.0 at <c>{pattern}</c> (OPTIONS,
    /// POST) and <c>{pattern}/{id}</c> (HEAD, PATCH, DELETE, and GET when downloads are on). The returned builder applies conventions such as
    /// <c>RequireAuthorization()</c>, <c>RequireRateLimiting(...)</c> or <c>RequireCors(...)</c> to all of them.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route prefix, for example <c>/files</c>.</param>
    /// <exception cref="InvalidOperationException">When <c>services.AddResumableUploads()</c> was not called.</exception>
    public static IEndpointConventionBuilder MapResumableUploads(this IEndpointRouteBuilder endpoints, string pattern = "/")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        EnsureRegistered(endpoints.ServiceProvider);
        var handler = endpoints.ServiceProvider.GetRequiredService<XFileIdProtocolHandler>();
        var protocols = endpoints.ServiceProvider.GetRequiredService<ResumableProtocolRouter>();

        var group = endpoints.MapGroup(pattern);
        group.MapMethods("status", [HttpMethods.Get, HttpMethods.Head], handler.HandleStatusAsync)
             .WithDisplayName("Resumable uploads: status");
        group.MapMethods("upload", [HttpMethods.Post], handler.HandleUploadAsync)
             .WithDisplayName("Resumable uploads: upload");
        group.MapMethods("download", [HttpMethods.Get, HttpMethods.Head], context =>
             {
                 if (!handler.DownloadEnabled)
                 {
                     context.Response.StatusCode = StatusCodes.Status404NotFound;
                     return Task.CompletedTask;
                 }

                 return handler.HandleDownloadAsync(context);
             })
             .WithDisplayName("Resumable uploads: download");
        group.MapMethods("", [HttpMethods.Options, HttpMethods.Post], context => protocols.AnyEnabled ? protocols.HandleCollectionAsync(context) : NotFound(context))
             .WithDisplayName("Resumable uploads: tus and IETF creation");
        group.MapMethods("{uploadId}", [HttpMethods.Head, HttpMethods.Patch, HttpMethods.Delete, HttpMethods.Get, HttpMethods.Post, HttpMethods.Options], context =>
             {
                 var id = context.Request.RouteValues["uploadId"] as string;
                 return protocols.AnyEnabled && id is not null && TusProtocolHandler.IsUploadId(id) ? protocols.HandleUploadAsync(context, id) : NotFound(context);
             })
             .WithDisplayName("Resumable uploads: tus and IETF upload");
        return group;
    }

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    internal static void EnsureRegistered(IServiceProvider services)
    {
        if (services.GetService<ResumableUpload.Middleware.Engine.UploadEngine>() is null)
        {
            throw new InvalidOperationException(
                "Resumable uploads are not registered. Call builder.Services.AddResumableUploads() before app.UseResumableUploads() or app.MapResumableUploads().");
        }
    }
}
