using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.XFileId;

public sealed class StatusTests
{
    [Fact]
    public async Task Status_UnknownId_ReturnsZeroAsPlainText()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", "never-seen");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        response.Headers.CacheControl!.NoStore.Should().BeTrue();
        (await response.Content.ReadAsStringAsync()).Should().Be("0");
    }

    [Fact]
    public async Task Status_AfterPartialUpload_ReturnsStoredCount()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(10_000);
        (await host.Client.UploadAsync("partial", file.AsMemory(0, 4_000), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await host.Client.GetStatusAsync("partial")).Should().Be(4_000);
    }

    [Fact]
    public async Task Status_Head_ReturnsCountHeaderWithoutBody()
    {
        await using var host = await UploadTestHost.StartAsync();
        (await host.Client.UploadAsync("head", Protocol.RandomBytes(123), startByte: 0, fileSize: 1000)).EnsureSuccessStatusCode();
        using var request = new HttpRequestMessage(HttpMethod.Head, "status");
        request.Headers.Add("X-File-Id", "head");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("Upload-Offset").Should().Equal("123");
        response.Headers.GetValues("Upload-Length").Should().Equal("1000");
        (await response.Content.ReadAsByteArrayAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task Status_CompletedUpload_KeepsReportingFullSize()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(5_000);
        (await host.Client.UploadAsync("done", file)).EnsureSuccessStatusCode();

        (await host.Client.GetStatusAsync("done")).Should().Be(5_000);
        (await host.Client.GetStatusAsync("done")).Should().Be(5_000, "a retrying client must not send the file again");
    }

    [Fact]
    public async Task Status_MissingFileId_Returns400ProblemNamingTheHeader()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.GetAsync("status");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var body = await response.Content.ReadAsStringAsync();
        body.Should().Contain("\"header\":\"X-File-Id\"").And.Contain("\"status\":400");
    }

    [Fact]
    public async Task Status_WhileAnotherRequestIsAppending_AnswersWithoutWaitingForTheLock()
    {
        // A long lock wait: if status took the lock it would hang until the append ends.
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.LockWaitTimeout = TimeSpan.FromMinutes(5);
            o.ProgressPublishInterval = 4096;
        });
        var first = Protocol.RandomBytes(64 * 1024);
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "busy"), ("X-Start-Byte", "0"), ("Content-Length", "1000000"));
        await stream.WriteAsync(first);
        await stream.FlushAsync();

        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("busy") >= 4096))
            .Should().BeTrue("status answers with the published offset while the append still holds the lock");
        var count = await host.Client.GetStatusAsync("busy");
        count.Should().BeLessThanOrEqualTo(first.Length);
        tcp.Connected.Should().BeTrue("the append is still running");
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("POST")]
    public async Task Status_WithUnsupportedMethod_Returns405WithAllow(string method)
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), "status");
        request.Headers.Add("X-File-Id", "x");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        response.Content.Headers.Allow.Should().BeEquivalentTo("GET", "HEAD");
    }
}
