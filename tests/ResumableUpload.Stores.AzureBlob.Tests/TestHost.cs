using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>A real Kestrel host on 127.0.0.1 (ephemeral port) running the real upload pipeline.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app)
    {
        App = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Client = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/") };
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>Builds the host (not started), so start-up failures can be observed by the caller.</summary>
    public static WebApplication Build(
        Action<IResumableUploadBuilder> configureUploads,
        Action<ResumableUploadOptions>? configureOptions = null,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        string? prefix = null)
    {
        var contentRoot = Path.Combine(Path.GetTempPath(), "ru-azure-tests", "content-root");
        Directory.CreateDirectory(contentRoot);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        configureUploads(builder.Services.AddResumableUploads(configureOptions));
        var app = builder.Build();
        if (prefix is null)
        {
            app.UseResumableUploads();
        }
        else
        {
            app.UseResumableUploads(prefix);
        }

        return app;
    }

    public static async Task<TestHost> StartAsync(
        Action<IResumableUploadBuilder> configureUploads,
        Action<ResumableUploadOptions>? configureOptions = null,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        string? prefix = null)
    {
        var app = Build(configureUploads, configureOptions, configuration, prefix);
        await app.StartAsync();
        return new TestHost(app);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
