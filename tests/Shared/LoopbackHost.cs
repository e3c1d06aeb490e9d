using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ResumableUpload.Testing.Shared;

/// <summary>
/// What the store test projects' hosts share: a slim web application on real Kestrel at 127.0.0.1 with an ephemeral
/// port, an empty content root (so no appsettings.json next to the test assembly leaks in), configuration given as
/// keys (as appsettings or the command line would give them) and no logging providers. Linked into each store test
/// project; each adds its stores and pipeline.
/// </summary>
internal static class LoopbackHost
{
    public static WebApplicationBuilder CreateBuilder(IEnumerable<KeyValuePair<string, string?>>? configuration = null)
    {
        var contentRoot = Path.Combine(Path.GetTempPath(), "ru-tests", "content-root");
        Directory.CreateDirectory(contentRoot);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        return builder;
    }

    /// <summary>The address the started <paramref name="app"/> listens on, with a trailing slash.</summary>
    public static Uri BaseAddress(WebApplication app)
        => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
}
