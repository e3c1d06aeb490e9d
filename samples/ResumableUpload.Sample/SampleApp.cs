namespace ResumableUpload.Sample;

/// <summary>
/// Builds the sample web application. Kept apart from <c>Program.cs</c> so tests can start the very same
/// app on a loopback port with their own configuration.
/// </summary>
public static class SampleApp
{
    /// <summary>Creates the sample application from command-line style arguments.</summary>
    /// <param name="args">
    /// Ordinary ASP.NET Core configuration arguments, for example
    /// <c>--urls http://127.0.0.1:5080</c> or <c>--ResumableUploads:FileSystem:RootPath=/data/uploads</c>.
    /// </param>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // The IETF draft's 104 (Upload Resumption Supported) response, on every HTTP/1.1 endpoint.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.UseResumableUploadInformationalResponses()));

        // Options bind from the "ResumableUploads" configuration section (appsettings.json, environment
        // variables, command line). The stores too: the filesystem ones by default, Redis/PostgreSQL state and
        // S3/Azure Blob data for several instances behind a load balancer (SampleStores.cs, docs/scale-out.md).
        builder.Services.AddResumableUploads(options => options.EnableDownload = true)
                        .AddConfiguredStores(builder.Configuration);

        // Each store package registers a health check of its backend; a load balancer or orchestrator probes them.
        builder.Services.AddHealthChecks();

        var app = builder.Build();

        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseResumableUploads();   // GET/HEAD /status, POST /upload, GET /download
        app.MapHealthChecks("/healthz");

        return app;
    }
}
