using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Extensions;

public sealed class PipelineTests
{
    [Fact]
    public async Task UseResumableUploads_WithPrefix_ServesUnderThePrefixOnlyAndPassesOtherRequestsOn()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.UseResumableUploads("/files/");
            app.Run(context => context.Response.WriteAsync("next:" + context.Request.Path));
        });

        var file = Protocol.RandomBytes(1_000);
        using var upload = Protocol.UploadRequest("prefixed", file);
        upload.RequestUri = new Uri("files/upload", UriKind.Relative);
        (await host.Client.SendAsync(upload)).StatusCode.Should().Be(HttpStatusCode.OK);
        using var status = new HttpRequestMessage(HttpMethod.Get, "files/status");
        status.Headers.Add("X-File-Id", "prefixed");
        using var statusResponse = await host.Client.SendAsync(status);

        (await statusResponse.Content.ReadAsStringAsync()).Should().Be("1000");
        (await host.Client.GetStringAsync("status")).Should().Be("next:/status");
        using var upperCase = new HttpRequestMessage(HttpMethod.Get, "FILES/Status");
        upperCase.Headers.Add("X-File-Id", "prefixed");
        (await (await host.Client.SendAsync(upperCase)).Content.ReadAsStringAsync()).Should().Be("1000", "paths match case-insensitively, as routing does");
        (await host.Client.GetStringAsync("files/other")).Should().Be("next:/files/other");
        (await host.Client.GetStringAsync("filesx/status")).Should().Be("next:/filesx/status");
    }

    [Fact]
    public async Task MapResumableUploads_ServesTheProtocolUnderThePatternAndComposesWithRouting()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.MapResumableUploads("/api/uploads").WithMetadata(new TagMetadata("uploads"));
            app.MapGet("/", () => "home");
        });
        var file = Protocol.RandomBytes(2_000);
        using var upload = Protocol.UploadRequest("mapped", file);
        upload.RequestUri = new Uri("api/uploads/upload", UriKind.Relative);

        (await host.Client.SendAsync(upload)).StatusCode.Should().Be(HttpStatusCode.OK);
        using var download = await host.Client.GetAsync("api/uploads/download?fileId=mapped");
        (await download.Content.ReadAsByteArrayAsync()).Should().Equal(file);
        (await host.Client.GetStringAsync("")).Should().Be("home");
        using var wrongMethod = await host.Client.PutAsync("api/uploads/upload", new ByteArrayContent([]));
        wrongMethod.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task UseResumableUploads_WithInMemoryStores_WorksWithoutTouchingTheDisk()
    {
        await using var host = await UploadTestHost.StartAsync(configureUploads: b => b.AddInMemoryStores());
        var file = Protocol.RandomBytes(50_000);

        (await host.Client.UploadAsync("memory", file.AsMemory(0, 20_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
        (await host.Client.UploadAsync("memory", file.AsMemory(20_000), startByte: 20_000, fileSize: file.Length)).EnsureSuccessStatusCode();

        (await host.Client.DownloadAsync("memory")).Should().Equal(file);
        Directory.EnumerateFileSystemEntries(host.StorageRoot).Should().BeEmpty();
    }

    private sealed record TagMetadata(string Tag);
}
