using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware.Http.Informational;

namespace ResumableUpload.Middleware.Tests.Http.Informational;

/// <summary>
/// A bare Kestrel host (no upload services) on 127.0.0.1 with its own listener configuration and an app whose
/// <c>POST /upload</c> sends <c>104</c>, reads the body and answers <c>201</c> with the body's length and hash.
/// </summary>
public sealed class InformationalTestHost : IAsyncDisposable
{
    public const string Location = "/files/0f3a9";
    public const string InteropVersion = "7";

    private InformationalTestHost(WebApplication app, List<string> outcomes)
    {
        App = app;
        Outcomes = outcomes;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
    }

    public WebApplication App { get; }

    public int Port { get; }

    /// <summary>What the default endpoint's helper call returned, per request in order: "sent" or "refused".</summary>
    public List<string> Outcomes { get; }

    /// <summary>Starts a host whose listener is configured by <paramref name="configureListener"/>; <paramref name="configureApp"/> replaces the default endpoint.</summary>
    public static async Task<InformationalTestHost> StartAsync(Action<ListenOptions> configureListener, Action<WebApplication>? configureApp = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Path.GetTempPath() });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, configureListener));
        builder.Logging.ClearProviders();
        var web = builder.Build();
        var outcomes = new List<string>();
        if (configureApp is not null)
        {
            configureApp(web);
        }
        else
        {
            web.Run(context => HandleUploadAsync(context, outcomes));
        }

        await web.StartAsync();
        return new InformationalTestHost(web, outcomes);
    }

    /// <summary>The default endpoint: 104 (headers chosen by the query), then the body, then 201.</summary>
    public static async Task HandleUploadAsync(HttpContext context, List<string> outcomes)
    {
        var location = context.Request.Query["location"].FirstOrDefault() switch
        {
            "crlf" => "/files/x\r\nInjected: yes",
            "lf" => "/files/x\nInjected: yes",
            _ => Location,
        };
        if (context.Request.Query.ContainsKey("start-first"))
        {
            await context.Response.StartAsync();
        }

        var sent = await context.TrySendInformationalAsync(
            InformationalResponseHttpContextExtensions.UploadResumptionSupported,
            InformationalResponseHttpContextExtensions.UploadResumptionSupportedReason,
            [new("Location", location), new("Upload-Draft-Interop-Version", InteropVersion)]);
        lock (outcomes)
        {
            outcomes.Add(sent ? "sent" : "refused");
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = Location;
        context.Response.Headers["X-Informational-Sent"] = sent ? "true" : "false";
        var echo = context.Request.Query.ContainsKey("echo");
        var answer = echo ? bytes : Encoding.ASCII.GetBytes(Describe(bytes));
        context.Response.ContentLength = answer.Length;
        await context.Response.Body.WriteAsync(answer);
    }

    public static string Describe(ReadOnlySpan<byte> bytes) => $"{bytes.Length}:{Convert.ToHexString(SHA256.HashData(bytes))}";

    public async Task<TcpClient> ConnectAsync()
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, Port);
        return tcp;
    }

    /// <summary>A client for this host; with <paramref name="trust"/>, over https trusting exactly that certificate.</summary>
    public HttpClient CreateClient(Version? version = null, bool expectContinue = false, X509Certificate2? trust = null)
    {
        var https = trust is not null;
        var handler = new SocketsHttpHandler();
        if (trust is not null)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, presented, _, _) => IsTrusted(presented, trust) };
        }

        var client = new HttpClient(handler)
        {
            BaseAddress = new Uri($"{(https ? "https" : "http")}://127.0.0.1:{Port}/"),
            Timeout = TimeSpan.FromSeconds(30),
            DefaultRequestVersion = version ?? HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        client.DefaultRequestHeaders.ExpectContinue = expectContinue;
        return client;
    }

    /// <summary>Pins the test's self-signed certificate.</summary>
    public static bool IsTrusted(X509Certificate? presented, X509Certificate2 trusted)
        => presented is not null && presented.GetCertHashString() == trusted.Thumbprint;

    public static X509Certificate2 CreateCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // A PFX round trip gives a certificate whose private key SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
