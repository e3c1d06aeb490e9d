using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The browser CORS setup of docs/tus.md works as written: preflights pass, and a tus client can read every tus header.</summary>
public sealed class CorsTests
{
    private const string Origin = "https://app.example";

    private static readonly string[] AllowedHeaders =
    [
        "Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat",
        "Upload-Checksum", "Content-Type", "X-HTTP-Method-Override", "X-Requested-With",
    ];

    private static readonly string[] ExposedHeaders =
    [
        "Location", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Defer-Length", "Upload-Expires",
        "Upload-Concat", "Tus-Version", "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Tus-Checksum-Algorithm",
    ];

    [Fact]
    public async Task MapResumableUploads_RequireCors_PreflightsPassAndResponsesExposeTheTusHeaders()
    {
        await using var host = await StartAsync();

        using var createPreflight = Preflight("files", "POST", "tus-resumable,upload-length,upload-metadata");
        using var createPreflightResponse = await host.Client.SendAsync(createPreflight);
        using var create = TusClient.CreateRequest("files", length: 10, metadata: "filename " + TusClient.Base64("a.txt"));
        create.Headers.Add("Origin", Origin);
        using var created = await host.Client.SendAsync(create);
        var url = created.Headers.Location!.OriginalString;
        using var patchPreflight = Preflight(url, "PATCH", "tus-resumable,upload-offset,content-type,upload-checksum");
        using var patchPreflightResponse = await host.Client.SendAsync(patchPreflight);
        using var conflict = TusClient.PatchRequest(url, 5, new byte[5]);
        conflict.Headers.Add("Origin", Origin);
        using var conflictResponse = await host.Client.SendAsync(conflict);

        foreach (var preflight in new[] { createPreflightResponse, patchPreflightResponse })
        {
            preflight.StatusCode.Should().Be(HttpStatusCode.NoContent);
            preflight.Header("Access-Control-Allow-Origin").Should().Be(Origin);
        }

        patchPreflightResponse.Header("Access-Control-Allow-Methods").Should().Contain("PATCH");
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        created.Header("Access-Control-Allow-Origin").Should().Be(Origin);
        created.Header("Access-Control-Expose-Headers")!.Split(',').Should().BeEquivalentTo(ExposedHeaders);
        conflictResponse.StatusCode.Should().Be(HttpStatusCode.Conflict);
        conflictResponse.Header("Access-Control-Expose-Headers").Should().NotBeNull("a browser client must read Upload-Offset of an error too");
    }

    [Fact]
    public async Task MapResumableUploads_RequireCors_OptionsWithoutPreflightHeadersIsTusDiscovery()
    {
        await using var host = await StartAsync();
        using var discovery = TusClient.Request(HttpMethod.Options, "files", version: null);
        discovery.Headers.Add("Origin", Origin);

        using var response = await host.Client.SendAsync(discovery);

        response.Header("Tus-Version").Should().Be("1.0.0");
        response.Header("Access-Control-Allow-Origin").Should().Be(Origin);
    }

    private static HttpRequestMessage Preflight(string url, string method, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Headers.Add("Origin", Origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    private static Task<UploadTestHost> StartAsync()
        => UploadTestHost.StartAsync(
            configureServices: services => services.AddCors(cors => cors.AddPolicy("tus", policy => policy
                .WithOrigins(Origin)
                .WithMethods("POST", "HEAD", "PATCH", "DELETE", "OPTIONS")
                .WithHeaders(AllowedHeaders)
                .WithExposedHeaders(ExposedHeaders))),
            configurePipeline: app =>
            {
                app.UseCors();
                app.MapResumableUploads("/files").RequireCors("tus");
            });
}
