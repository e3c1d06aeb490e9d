using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>A real Kestrel host on 127.0.0.1 (ephemeral port) running the real upload pipeline.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app)
    {
        App = app;
        Client = new HttpClient { BaseAddress = LoopbackHost.BaseAddress(app) };
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
        var builder = LoopbackHost.CreateBuilder(configuration);
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
