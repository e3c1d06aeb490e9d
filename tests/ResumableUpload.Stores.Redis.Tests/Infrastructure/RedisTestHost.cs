using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Stores.Redis.Tests.Infrastructure;

/// <summary>
/// A real Kestrel host on 127.0.0.1 (ephemeral port) running the upload pipeline, with configuration given as keys
/// (as appsettings or the command line would give them) and the stores chosen by the caller.
/// </summary>
internal sealed class RedisTestHost : IAsyncDisposable
{
    private RedisTestHost(WebApplication app)
    {
        App = app;
        Client = new HttpClient { BaseAddress = LoopbackHost.BaseAddress(app) };
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>A fresh temporary directory (for the filesystem data store).</summary>
    public static string CreateTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ru-redis-tests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Builds the host; <see cref="StartAsync"/> starts it (where options validation runs).</summary>
    public static WebApplication Build(IEnumerable<KeyValuePair<string, string?>> configuration, Action<IResumableUploadBuilder> configureUploads)
    {
        var builder = LoopbackHost.CreateBuilder(configuration);
        configureUploads(builder.Services.AddResumableUploads(o => o.EnableDownload = true));
        var app = builder.Build();
        try
        {
            app.UseResumableUploads();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        return app;
    }

    public static async Task<RedisTestHost> StartAsync(IEnumerable<KeyValuePair<string, string?>> configuration, Action<IResumableUploadBuilder> configureUploads)
    {
        var app = Build(configuration, configureUploads);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new RedisTestHost(app);
    }

    /// <summary>A host with Redis state and locks (configured through the <c>ResumableUploads:Redis</c> keys) and filesystem bytes under <paramref name="storageRoot"/>.</summary>
    public static Task<RedisTestHost> StartWithRedisAsync(string connectionString, string keyPrefix, string storageRoot)
        => StartAsync(
            new Dictionary<string, string?>
            {
                ["ResumableUploads:Redis:Configuration"] = connectionString,
                ["ResumableUploads:Redis:KeyPrefix"] = keyPrefix,
                ["ResumableUploads:Redis:LeaseDuration"] = "00:00:05",
            },
            uploads => uploads.AddFileSystemStores(storageRoot).AddRedisStores());

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
