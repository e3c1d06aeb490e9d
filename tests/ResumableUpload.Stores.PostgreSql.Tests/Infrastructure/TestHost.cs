using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;

/// <summary>A real Kestrel host on 127.0.0.1 with an ephemeral port, configured by the test.</summary>
internal static class TestHost
{
    public static WebApplication Build(
        Action<IServiceCollection> configureServices,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        Action<WebApplication>? configurePipeline = null)
    {
        var builder = LoopbackHost.CreateBuilder(configuration);
        configureServices(builder.Services);
        var app = builder.Build();
        configurePipeline?.Invoke(app);
        return app;
    }

    public static Uri BaseAddress(WebApplication app) => LoopbackHost.BaseAddress(app);
}
