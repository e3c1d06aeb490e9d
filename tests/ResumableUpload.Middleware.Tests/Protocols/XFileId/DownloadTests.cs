using System.Net;
using System.Net.Http.Headers;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.XFileId;

public sealed class DownloadTests
{
    [Fact]
    public async Task Download_WithRange_Returns206WithThoseBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(10_000);
        (await host.Client.UploadAsync("ranged", file)).EnsureSuccessStatusCode();
        using var request = new HttpRequestMessage(HttpMethod.Get, "download?fileId=ranged");
        request.Headers.Range = new RangeHeaderValue(1_000, 1_999);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.PartialContent);
        response.Content.Headers.ContentRange!.Length.Should().Be(10_000);
        (await response.Content.ReadAsByteArrayAsync()).Should().Equal(file.AsSpan(1_000, 1_000).ToArray());
    }

    [Fact]
    public async Task Download_ByQueryParameter_ReturnsTheFile()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(1_000);
        (await host.Client.UploadAsync("name with spaces & ü", file)).EnsureSuccessStatusCode();

        using var response = await host.Client.GetAsync("download?fileId=" + Uri.EscapeDataString("name with spaces & ü"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/octet-stream");
        (await response.Content.ReadAsByteArrayAsync()).Should().Equal(file);
    }

    [Fact]
    public async Task Download_WhenNotEnabled_IsNotServed()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.EnableDownload = false);
        (await host.Client.UploadAsync("private", Protocol.RandomBytes(100))).EnsureSuccessStatusCode();

        using var response = await host.Client.GetAsync("download?fileId=private");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Download_UnknownOrMissingId_Returns404Or400()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var unknown = await host.Client.GetAsync("download?fileId=nope");
        using var missing = await host.Client.GetAsync("download");

        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
        missing.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }
}
