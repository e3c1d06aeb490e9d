using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ResumableUpload.Client.Tests.Infrastructure;

/// <summary>
/// Our server on real Kestrel at 127.0.0.1, wired like the sample (all three protocols at the site root, filesystem
/// stores, downloads on), in a fresh temp directory. It can be restarted on the same port with the same storage, and a
/// test can put its own middleware in front (a 413 cap like a proxy's, a 503, a refusal).
/// </summary>
internal sealed class UploadServer : IAsyncDisposable
{
    private readonly Func<HttpContext, Func<Task>, Task>? _front;
    private readonly long _maxUploadSize;
    private WebApplication? _app;

    private UploadServer(string root, Func<HttpContext, Func<Task>, Task>? front, long maxUploadSize)
    {
        Root = root;
        _front = front;
        _maxUploadSize = maxUploadSize;
    }

    public string Root { get; }

    public int Port { get; private set; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public int Requests;

    public static async Task<UploadServer> StartAsync(Func<HttpContext, Func<Task>, Task>? front = null, long maxUploadSize = 2L << 30)
    {
        var root = Path.Combine(Path.GetTempPath(), "ru-client-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "storage"));
        Directory.CreateDirectory(Path.Combine(root, "content-root"));
        var server = new UploadServer(root, front, maxUploadSize);
        await server.StartOnAsync(0);
        return server;
    }

    /// <summary>Stops the server (in-flight requests are cut) and starts a new one on the same port and storage.</summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        await StopAsync();
        await Task.Delay(downtime);
        await StartOnAsync(Port);
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            using var quick = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                await app.StopAsync(quick.Token);
            }
            catch (OperationCanceledException)
            {
            }

            await app.DisposeAsync();
        }
    }

    /// <summary>The SHA-256 of a finished upload, read back through the download endpoint.</summary>
    public async Task<string> DownloadSha256Async(UploadResult result)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        using var request = result.Location is { } location
            ? new HttpRequestMessage(HttpMethod.Get, new Uri(BaseAddress, location.PathAndQuery))
            : new HttpRequestMessage(HttpMethod.Get, "download");
        if (result.FileId is { } id)
        {
            request.Headers.Add("X-File-Id", id);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK, "the finished upload must be downloadable");
        await using var body = await response.Content.ReadAsStreamAsync();
        return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(body));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Path.Combine(Root, "content-root") });
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, port);
            o.Limits.MaxRequestBodySize = null;
        });
        builder.Logging.ClearProviders();
        builder.Services.AddResumableUploads(o =>
        {
            o.EnableDownload = true;
            o.MaxUploadSize = _maxUploadSize;
        }).AddFileSystemStores(Path.Combine(Root, "storage"));

        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref Requests);
            if (_front is null)
            {
                await next();
            }
            else
            {
                await _front(context, () => next());
            }
        });
        app.UseResumableUploads();
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }
}
