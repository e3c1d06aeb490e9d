using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ResumableUpload.Middleware.Http.Informational;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Kestrel listener options for resumable uploads.</summary>
public static class ResumableUploadListenOptionsExtensions
{
    /// <summary>
    /// Lets resumable-upload endpoints on this listener send HTTP/1.1 informational responses, such as
    /// <c>104 Upload Resumption Supported</c> of the IETF "Resumable Uploads for HTTP" protocol, ahead of the final
    /// response. ASP.NET Core has no API for 1xx responses; this adds a connection middleware that wraps the
    /// connection's output so they can be written between Kestrel's own writes, safely. Without it the uploads work
    /// the same, only without the informational responses.
    /// </summary>
    /// <remarks>
    /// Only HTTP/1.1 requests get them: on HTTP/2 (and HTTP/3, which this listener middleware never sees) nothing
    /// is sent, and HTTP/1.0 clients must not receive 1xx responses. With TLS, call this <em>after</em>
    /// <c>UseHttps()</c>, so it wraps the decrypted stream; called before, informational responses are not sent.
    /// Intermediaries (reverse proxies, IIS out-of-process) must forward 1xx responses or drop them cleanly.
    /// </remarks>
    /// <param name="listenOptions">The listener, from <c>KestrelServerOptions.Listen(...)</c> and the like.</param>
    /// <returns>The same <paramref name="listenOptions"/>.</returns>
    public static ListenOptions UseResumableUploadInformationalResponses(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        listenOptions.Use(next => connection => OnConnectionAsync(listenOptions, connection, next));
        return listenOptions;
    }

    private static async Task OnConnectionAsync(ListenOptions listenOptions, ConnectionContext connection, ConnectionDelegate next)
    {
        // Protocols is read per connection, so setting it after this call counts. HTTP/2-only listeners pass through,
        // as do TLS connections that negotiated h2 (ALPN is known here when UseHttps() ran first).
        if ((listenOptions.Protocols & HttpProtocols.Http1) == 0 || NegotiatedHttp2(connection))
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        var original = connection.Transport;
        var transport = new InformationalResponseTransport(connection, original);
        var previousFeature = connection.Features.Get<IInformationalResponseFeature>();
        connection.Transport = transport;
        connection.Features.Set<IInformationalResponseFeature>(transport);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            transport.Disable();
            connection.Features.Set(previousFeature);
            connection.Transport = original;
        }
    }

    private static bool NegotiatedHttp2(ConnectionContext connection)
    {
        var alpn = connection.Features.Get<ITlsApplicationProtocolFeature>();
        return alpn is not null && alpn.ApplicationProtocol.Span.SequenceEqual(SslApplicationProtocol.Http2.Protocol.Span);
    }
}
