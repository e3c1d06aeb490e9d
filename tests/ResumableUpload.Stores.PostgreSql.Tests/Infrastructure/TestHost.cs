using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;

/// <summary>A real Kestrel host on 127.0.0.1 with an ephemeral port, configured by the test.</summary>
internal static class TestHost
{
    public static WebApplication Build(
        Action<IServiceCollection> configureServices,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        Action<WebApplication>? configurePipeline = null)
    {
        var contentRoot = Path.Combine(Path.GetTempPath(), "ru-pg-tests", "content-root");
        Directory.CreateDirectory(contentRoot);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        configureServices(builder.Services);
        var app = builder.Build();
        configurePipeline?.Invoke(app);
        return app;
    }

    public static Uri BaseAddress(WebApplication app)
        => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
}
