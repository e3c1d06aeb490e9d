using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Protocols.Ietf;
using ResumableUpload.Middleware.Protocols.Tus;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// Decides which protocol front serves a request to the upload collection (<c>{prefix}</c>) or to an upload resource
/// (<c>{prefix}/{id}</c>): the IETF draft when it carries the draft's headers (every interop version sends
/// <c>Upload-Draft-Interop-Version</c> on every request) and no <c>Tus-Resumable</c>, otherwise tus (which refuses a
/// request without <c>Tus-Resumable</c> with 412), and discovery for <c>OPTIONS</c>.
/// </summary>
internal sealed class ResumableProtocolRouter
{
    private readonly TusProtocolHandler _tus;
    private readonly IetfProtocolHandler _ietf;

    public ResumableProtocolRouter(TusProtocolHandler tus, IetfProtocolHandler ietf)
    {
        _tus = tus;
        _ietf = ietf;
    }

    public bool AnyEnabled => _tus.Enabled || _ietf.Enabled;

    /// <summary>Whether this front set serves the request to the collection (used by the middleware to pass others on).</summary>
    public bool ClaimsCollectionRequest(HttpRequest request)
    {
        var method = TusProtocolHandler.EffectiveMethod(request);
        if (HttpMethods.IsOptions(method))
        {
            return !request.Headers.ContainsKey("Access-Control-Request-Method") && AnyEnabled;
        }

        return HttpMethods.IsPost(method)
               && ((_tus.Enabled && TusProtocolHandler.IsTusRequest(request)) || (_ietf.Enabled && IetfHeaders.IsIetfRequest(request)));
    }

    public Task HandleCollectionAsync(HttpContext context)
    {
        var request = context.Request;
        var method = TusProtocolHandler.EffectiveMethod(request);
        if (HttpMethods.IsOptions(method))
        {
            if (_ietf.Enabled)
            {
                _ietf.AddDiscoveryHeaders(context);
            }

            if (_tus.Enabled)
            {
                return _tus.HandleCollectionAsync(context);
            }

            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }

        if (_ietf.Enabled && !TusProtocolHandler.IsTusRequest(request) && IetfHeaders.IsIetfRequest(request))
        {
            return _ietf.HandleCreationAsync(context);
        }

        if (_tus.Enabled)
        {
            return _tus.HandleCollectionAsync(context);
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    public async Task HandleUploadAsync(HttpContext context, string id)
    {
        var request = context.Request;
        var method = TusProtocolHandler.EffectiveMethod(request);
        var isTus = TusProtocolHandler.IsTusRequest(request);
        if (_ietf.Enabled && !isTus && (HttpMethods.IsHead(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method))
            && (IetfHeaders.IsIetfRequest(request) || await _ietf.OwnsAsync(context, id).ConfigureAwait(false)))
        {
            // A request with neither protocol's headers (a client of the final RFC sends none on HEAD or DELETE)
            // goes to the front whose upload it names.
            await _ietf.HandleUploadAsync(context, id).ConfigureAwait(false);
            return;
        }

        if (_tus.Enabled)
        {
            await _tus.HandleUploadAsync(context, id).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
    }
}
