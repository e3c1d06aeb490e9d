using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware;

namespace ResumableUpload.Middleware.Tests.Infrastructure;

/// <summary>
/// The one host factory of the tests: a real Kestrel server on 127.0.0.1 with an ephemeral port, running the real
/// pipeline. Each host gets its own storage directory (kept when <see cref="StorageRoot"/> is passed in, so a
/// "restart" is a second host on the same directory).
/// </summary>
public sealed class UploadTestHost : IAsyncDisposable
{
    private readonly bool _ownsStorage;

    private UploadTestHost(WebApplication app, string storageRoot, bool ownsStorage, TestLoggerProvider logs)
    {
        App = app;
        StorageRoot = storageRoot;
        _ownsStorage = ownsStorage;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        Client = CreateClient();
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    public string StorageRoot { get; }

    public HttpClient Client { get; }

    public TestLoggerProvider Logs { get; }

    public IServiceProvider Services => App.Services;

    public int Port => BaseAddress.Port;

    /// <summary>Starts a host. By default: filesystem stores in a fresh temp directory, <c>UseResumableUploads()</c> at the root, downloads on.</summary>
    public static async Task<UploadTestHost> StartAsync(
        Action<ResumableUploadOptions>? configureOptions = null,
        Action<IResumableUploadBuilder>? configureUploads = null,
        Action<IServiceCollection>? configureServices = null,
        Action<WebApplication>? configurePipeline = null,
        string? storageRoot = null,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        bool testAuthentication = false)
    {
        var ownsStorage = storageRoot is null;
        storageRoot ??= CreateTempDirectory();
        // The content root is an empty shared folder, so no appsettings.json (such as the sample's, copied next to
        // the test assembly) leaks into the test hosts.
        var contentRoot = Path.Combine(Path.GetTempPath(), "ru-tests", "content-root");
        Directory.CreateDirectory(contentRoot);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);

        var uploads = builder.Services.AddResumableUploads(o =>
        {
            o.EnableDownload = true;
            configureOptions?.Invoke(o);
        }).AddFileSystemStores(storageRoot);
        configureUploads?.Invoke(uploads);
        if (testAuthentication)
        {
            builder.Services.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, null);
            builder.Services.AddAuthorization();
        }

        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        if (testAuthentication)
        {
            app.UseAuthentication();
        }

        if (configurePipeline is not null)
        {
            configurePipeline(app);
        }
        else
        {
            app.UseResumableUploads();
        }

        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            if (ownsStorage)
            {
                TryDeleteDirectory(storageRoot);
            }

            throw;
        }

        return new UploadTestHost(app, storageRoot, ownsStorage, logs);
    }

    public static string CreateTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "ru-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A client that sends header values as UTF-8 (HttpClient refuses non-ASCII otherwise).</summary>
    public HttpClient CreateClient(string? user = null)
    {
        var handler = new SocketsHttpHandler
        {
            RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        var client = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add(TestAuthenticationHandler.UserHeader, user);
        }

        return client;
    }

    /// <summary>Opens a raw TCP connection to the host, for requests HttpClient cannot send (cut bodies, odd bytes).</summary>
    public async Task<TcpClient> ConnectAsync()
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, Port);
        return tcp;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        if (_ownsStorage)
        {
            TryDeleteDirectory(StorageRoot);
        }
    }

    public static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Authenticates a request as the user named in the <c>X-Test-User</c> header (no header: anonymous).</summary>
public sealed class TestAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Test";
    public const string UserHeader = "X-Test-User";

    /// <summary>A user name that authenticates without any identifying claim.</summary>
    public const string NamelessUser = "(nameless)";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(UserHeader, out var user) || string.IsNullOrEmpty(user))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var claims = user == NamelessUser ? Array.Empty<Claim>() : [new Claim(ClaimTypes.NameIdentifier, user!)];
        var identity = new ClaimsIdentity(claims, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
