using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Security;

/// <summary>The protocols share the engine and the stores, but not each other's uploads.</summary>
public sealed class CrossProtocolTests
{
    [Fact]
    public async Task XFileId_WithTheEngineNameOfATusUpload_IsRefusedAndCannotTouchIt()
    {
        // Regression: tus uploads are named "tus:<id>" in the engine, so an X-File-Id request with that id used to
        // reach (read, restart or download) the tus upload of the same partition.
        await using var host = await UploadTestHost.StartAsync();
        using var create = new HttpRequestMessage(HttpMethod.Post, "");
        create.Headers.Add("Tus-Resumable", "1.0.0");
        create.Headers.Add("Upload-Length", "10");
        using var created = await host.Client.SendAsync(create);
        var id = created.Headers.Location!.OriginalString.TrimStart('/');

        using var status = new HttpRequestMessage(HttpMethod.Get, "status");
        status.Headers.Add("X-File-Id", "tus:" + id);
        using var statusResponse = await host.Client.SendAsync(status);
        using var restart = await host.Client.UploadAsync("tus:" + id, Protocol.RandomBytes(10));
        using var download = await host.Client.GetAsync("download?fileId=" + Uri.EscapeDataString("ietf:" + id));

        statusResponse.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        restart.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        download.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.UploadAsync("tus:not-an-engine-name", Protocol.RandomBytes(3))).StatusCode.Should().Be(HttpStatusCode.OK, "only the exact engine names are reserved");
    }
}
