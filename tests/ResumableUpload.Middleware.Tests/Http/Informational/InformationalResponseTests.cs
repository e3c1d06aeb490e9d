using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ResumableUpload.Middleware.Http.Informational;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Http.Informational;

/// <summary>
/// <c>UseResumableUploadInformationalResponses()</c> on a real Kestrel listener: 104 goes out over HTTP/1.1 before
/// the final response, never interleaved with Kestrel's own bytes, and nowhere else.
/// </summary>
public sealed class InformationalResponseTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private static Task<InformationalTestHost> StartWithOptionAsync(Action<WebApplication>? app = null)
        => InformationalTestHost.StartAsync(lo => lo.UseResumableUploadInformationalResponses(), app);

    private static string Request(string path, byte[] body, params string[] headers)
    {
        var builder = new StringBuilder();
        builder.Append("POST ").Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ").Append(body.Length).Append("\r\n");
        foreach (var header in headers)
        {
            builder.Append(header).Append("\r\n");
        }

        return builder.Append("\r\n").ToString();
    }

    private static byte[] RequestBytes(string path, byte[] body, params string[] headers)
        => [.. Encoding.ASCII.GetBytes(Request(path, body, headers)), .. body];

    private static async Task AssertUploadResponseAsync(RawResponseReader reader, byte[] body, bool informational)
    {
        if (informational)
        {
            var head = await reader.ReadHeadAsync();
            head.StatusLine.Should().Be("HTTP/1.1 104 Upload Resumption Supported");
            head.Headers.Should().Equal(
                new KeyValuePair<string, string>("Location", InformationalTestHost.Location),
                new KeyValuePair<string, string>("Upload-Draft-Interop-Version", InformationalTestHost.InteropVersion));
        }

        var (final, answer) = await reader.ReadResponseAsync();
        final.StatusCode.Should().Be(201, "the final response follows, got: {0}", final.Text);
        final.Header("X-Informational-Sent").Should().Be(informational ? "true" : "false");
        Encoding.ASCII.GetString(answer).Should().Be(InformationalTestHost.Describe(body));
    }

    [Fact]
    public async Task Post_SendsInformationalBeforeFinalResponse_BodyIntact()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var body = Protocol.RandomBytes(200_000, seed: 1);

        await stream.WriteAsync(RequestBytes("/upload", body));
        var reader = new RawResponseReader(stream);

        await AssertUploadResponseAsync(reader, body, informational: true);
        (await reader.ReadExtraAsync(Quiet)).Should().BeEmpty();
        host.Outcomes.Should().Equal("sent");
    }

    [Fact]
    public async Task ExpectContinue_InformationalThenContinueThenFinal()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var body = Protocol.RandomBytes(50_000, seed: 2);
        var reader = new RawResponseReader(stream);

        await stream.WriteAsync(Encoding.ASCII.GetBytes(Request("/upload", body, "Expect: 100-continue")));
        var informational = await reader.ReadHeadAsync();
        informational.StatusLine.Should().Be("HTTP/1.1 104 Upload Resumption Supported");
        informational.Header("Location").Should().Be(InformationalTestHost.Location);
        var proceed = await reader.ReadHeadAsync();
        proceed.StatusLine.Should().Be("HTTP/1.1 100 Continue");
        proceed.Headers.Should().BeEmpty();

        await stream.WriteAsync(body);
        var (final, answer) = await reader.ReadResponseAsync();
        final.StatusCode.Should().Be(201);
        Encoding.ASCII.GetString(answer).Should().Be(InformationalTestHost.Describe(body));
        (await reader.ReadExtraAsync(Quiet)).Should().BeEmpty();
    }

    [Fact]
    public async Task KeepAlive_EachRequestGetsItsOwnInformationalResponse()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var reader = new RawResponseReader(stream);

        for (var i = 0; i < 3; i++)
        {
            var body = Protocol.RandomBytes(10_000 + i, seed: 10 + i);
            await stream.WriteAsync(RequestBytes("/upload", body));
            await AssertUploadResponseAsync(reader, body, informational: true);
        }

        host.Outcomes.Should().Equal("sent", "sent", "sent");
    }

    [Fact]
    public async Task Pipelined_RequestsAndResponsesStayIntactAndInOrder()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var bodies = Enumerable.Range(0, 5).Select(i => Protocol.RandomBytes(1_000 * (i + 1), seed: 20 + i)).ToArray();

        await stream.WriteAsync(bodies.SelectMany(b => RequestBytes("/upload", b)).ToArray());
        var reader = new RawResponseReader(stream);

        foreach (var body in bodies)
        {
            await AssertUploadResponseAsync(reader, body, informational: true);
        }

        (await reader.ReadExtraAsync(Quiet)).Should().BeEmpty();
    }

    [Fact]
    public async Task ManyConnections_LargeEchoes_NothingInterleaves()
    {
        await using var host = await StartWithOptionAsync();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(async c =>
        {
            using var tcp = await host.ConnectAsync();
            var stream = tcp.GetStream();
            var reader = new RawResponseReader(stream);
            for (var i = 0; i < 4; i++)
            {
                var body = Protocol.RandomBytes(300_000 + c, seed: (c * 10) + i);
                var send = stream.WriteAsync(RequestBytes("/upload?echo", body)).AsTask();
                var informational = await reader.ReadHeadAsync();
                informational.StatusCode.Should().Be(104);
                var (final, echoed) = await reader.ReadResponseAsync();
                await send;
                final.StatusCode.Should().Be(201);
                echoed.Should().Equal(body);
            }
        }));
    }

    [Fact]
    public async Task WithoutListenOption_HelperReturnsFalse_NothingExtraIsSent()
    {
        await using var host = await InformationalTestHost.StartAsync(_ => { });
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var reader = new RawResponseReader(stream);
        var body = Protocol.RandomBytes(5_000, seed: 3);

        await stream.WriteAsync(Encoding.ASCII.GetBytes(Request("/upload", body, "Expect: 100-continue")));
        (await reader.ReadHeadAsync()).StatusLine.Should().Be("HTTP/1.1 100 Continue");
        await stream.WriteAsync(body);
        await AssertUploadResponseAsync(reader, body, informational: false);
        (await reader.ReadExtraAsync(Quiet)).Should().BeEmpty();
        host.Outcomes.Should().Equal("refused");
    }

    [Theory]
    [InlineData("crlf")]
    [InlineData("lf")]
    public async Task LineBreakInHeaderValue_IsRefused_NothingIsWritten(string location)
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var reader = new RawResponseReader(stream);
        var body = Protocol.RandomBytes(1_000, seed: 4);

        await stream.WriteAsync(RequestBytes($"/upload?location={location}", body));

        var (final, _) = await reader.ReadResponseAsync();
        final.StatusCode.Should().Be(201, "no 104 (nor a split one) precedes the final response: {0}", final.Text);
        final.Header("X-Informational-Sent").Should().Be("false");
        final.Header("Injected").Should().BeNull();
        host.Outcomes.Should().Equal("refused");
    }

    [Fact]
    public async Task AfterResponseStarted_HelperReturnsFalse()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var reader = new RawResponseReader(stream);

        await stream.WriteAsync(RequestBytes("/upload?start-first", []));

        var head = await reader.ReadHeadAsync();
        head.StatusCode.Should().Be(200, "the started response's head comes first and alone: {0}", head.Text);
        host.Outcomes.Should().Equal("refused");
    }

    [Fact]
    public async Task Http10Request_HelperReturnsFalse()
    {
        await using var host = await StartWithOptionAsync();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var reader = new RawResponseReader(stream);
        var body = Protocol.RandomBytes(100, seed: 5);

        byte[] request = [.. Encoding.ASCII.GetBytes($"POST /upload HTTP/1.0\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];
        await stream.WriteAsync(request);

        var head = await reader.ReadHeadAsync();
        head.StatusLine.Should().StartWith("HTTP/1.1 201 ");
        host.Outcomes.Should().Equal("refused");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HttpClient_Http11_GetsTheFinalResponseAfterInformational(bool expectContinue)
    {
        await using var host = await StartWithOptionAsync();
        using var client = host.CreateClient(expectContinue: expectContinue);
        var body = Protocol.RandomBytes(100_000, seed: 6);

        for (var i = 0; i < 2; i++)
        {
            using var response = await client.PostAsync("upload", new ByteArrayContent(body));

            response.StatusCode.Should().Be(HttpStatusCode.Created);
            response.Version.Should().Be(HttpVersion.Version11);
            response.Headers.Location!.OriginalString.Should().Be(InformationalTestHost.Location);
            response.Headers.GetValues("X-Informational-Sent").Should().Equal("true");
            (await response.Content.ReadAsStringAsync()).Should().Be(InformationalTestHost.Describe(body));
        }
    }

    // Cleartext Http1AndHttp2 listeners speak only HTTP/1.1 in Kestrel (an h2 preface gets HTTP_1_1_REQUIRED), so
    // prior-knowledge h2c needs Http2 alone; h2 negotiated by ALPN on Http1AndHttp2 is covered by the TLS test.
    [Fact]
    public async Task Http2PriorKnowledge_HelperReturnsFalse_RequestSucceeds()
    {
        await using var host = await InformationalTestHost.StartAsync(lo =>
        {
            lo.UseResumableUploadInformationalResponses();
            lo.Protocols = HttpProtocols.Http2;
        });
        using var client = host.CreateClient(HttpVersion.Version20);
        var body = Protocol.RandomBytes(100_000, seed: 7);

        using var response = await client.PostAsync("upload", new ByteArrayContent(body));

        response.Version.Should().Be(HttpVersion.Version20);
        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Headers.GetValues("X-Informational-Sent").Should().Equal("false");
        (await response.Content.ReadAsStringAsync()).Should().Be(InformationalTestHost.Describe(body));
        host.Outcomes.Should().Equal("refused");
    }

    [Fact]
    public async Task Tls_AfterUseHttps_InformationalIsSentInsideTls()
    {
        using var certificate = InformationalTestHost.CreateCertificate();
        await using var host = await InformationalTestHost.StartAsync(lo =>
        {
            lo.Protocols = HttpProtocols.Http1AndHttp2;
            lo.UseHttps(certificate);
            lo.UseResumableUploadInformationalResponses();
        });
        using var tcp = await host.ConnectAsync();
        await using var tls = await AuthenticateAsync(tcp, certificate);
        var reader = new RawResponseReader(tls);
        var body = Protocol.RandomBytes(30_000, seed: 8);

        await tls.WriteAsync(RequestBytes("/upload", body));

        await AssertUploadResponseAsync(reader, body, informational: true);

        // The same listener negotiating h2 through ALPN: passed through untouched, no 104.
        using var client = host.CreateClient(HttpVersion.Version20, trust: certificate);
        using var response = await client.PostAsync("upload", new ByteArrayContent(body));
        response.Version.Should().Be(HttpVersion.Version20);
        response.Headers.GetValues("X-Informational-Sent").Should().Equal("false");
    }

    [Fact]
    public async Task Tls_BeforeUseHttps_HelperReturnsFalse_TlsStreamIntact()
    {
        using var certificate = InformationalTestHost.CreateCertificate();
        await using var host = await InformationalTestHost.StartAsync(lo =>
        {
            lo.Protocols = HttpProtocols.Http1AndHttp2;
            lo.UseResumableUploadInformationalResponses();
            lo.UseHttps(certificate);
        });
        using var tcp = await host.ConnectAsync();
        await using var tls = await AuthenticateAsync(tcp, certificate);
        var reader = new RawResponseReader(tls);
        var body = Protocol.RandomBytes(30_000, seed: 9);

        for (var i = 0; i < 2; i++)
        {
            await tls.WriteAsync(RequestBytes("/upload", body));
            await AssertUploadResponseAsync(reader, body, informational: false);
        }

        // h2 through ALPN: here the wrapper is in place (ALPN was unknown when it ran), the helper still refuses.
        using var client = host.CreateClient(HttpVersion.Version20, trust: certificate);
        using var response = await client.PostAsync("upload", new ByteArrayContent(body));
        response.Version.Should().Be(HttpVersion.Version20);
        response.StatusCode.Should().Be(HttpStatusCode.Created);
        (await response.Content.ReadAsStringAsync()).Should().Be(InformationalTestHost.Describe(body));
        host.Outcomes.Should().Equal("refused", "refused", "refused");
    }

    [Fact]
    public async Task FeatureIsReachableThroughHttpContextFeatures_OnlyWithTheOption()
    {
        var seen = new List<bool>();
        Action<WebApplication> app = web => web.Run(context =>
        {
            lock (seen)
            {
                seen.Add(context.Features.Get<IInformationalResponseFeature>() is not null);
            }

            return Task.CompletedTask;
        });
        await using (var with = await StartWithOptionAsync(app))
        {
            using var client = with.CreateClient();
            (await client.GetAsync("/")).EnsureSuccessStatusCode();
        }

        await using (var without = await InformationalTestHost.StartAsync(_ => { }, app))
        {
            using var client = without.CreateClient();
            (await client.GetAsync("/")).EnsureSuccessStatusCode();
        }

        seen.Should().Equal(true, false);
    }

    [Fact]
    public async Task InvalidStatusCode_Throws()
    {
        await using var host = await StartWithOptionAsync(web => web.Run(async context =>
        {
            foreach (var status in new[] { 99, 100, 101, 200 })
            {
                var act = async () => await context.TrySendInformationalAsync(status, "X", []);
                await act.Should().ThrowAsync<ArgumentOutOfRangeException>();
            }

            context.Response.StatusCode = 204;
        }));
        using var client = host.CreateClient();

        using var response = await client.GetAsync("/");

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
    }

    [Fact]
    public void UseResumableUploadInformationalResponses_ReturnsTheSameListenOptions()
    {
        var kestrel = new KestrelServerOptions();
        ListenOptions? captured = null;
        kestrel.Listen(IPAddress.Loopback, 0, lo => captured = lo);

        captured!.UseResumableUploadInformationalResponses().Should().BeSameAs(captured);
        var act = () => ResumableUploadListenOptionsExtensions.UseResumableUploadInformationalResponses(null!);
        act.Should().Throw<ArgumentNullException>();
    }

    private static async Task<SslStream> AuthenticateAsync(TcpClient tcp, X509Certificate2 trusted)
    {
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            RemoteCertificateValidationCallback = (_, presented, _, _) => InformationalTestHost.IsTrusted(presented, trusted),
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            EnabledSslProtocols = SslProtocols.None,
        });
        return tls;
    }
}
