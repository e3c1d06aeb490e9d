using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The termination extension: DELETE frees an upload, and its URL is gone afterwards.</summary>
public sealed class TerminationTests
{
    [Fact]
    public async Task Delete_UnfinishedUpload_Returns204ThenHeadIs404AndPatchIs404()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 1_000);
        (await host.Client.PatchAsync(url, 0, new byte[400])).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var delete = await host.Client.DeleteUploadAsync(url);
        using var head = await host.Client.HeadAsync(url);
        using var patch = await host.Client.PatchAsync(url, 400, new byte[600]);

        delete.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Gone);
        head.Header("Upload-Offset").Should().BeNull();
        patch.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Gone);
    }

    [Fact]
    public async Task Delete_CompletedUpload_Returns204AndFreesItsBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        (await host.Client.PatchAsync(url, 0, new byte[10])).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var delete = await host.Client.DeleteUploadAsync(url);
        using var download = await host.Client.GetAsync(url);

        delete.StatusCode.Should().Be(HttpStatusCode.NoContent);
        download.StatusCode.Should().Be(HttpStatusCode.NotFound);
        Directory.GetFiles(Path.Combine(host.StorageRoot, "data"), "*", SearchOption.AllDirectories).Should().BeEmpty("DELETE frees the associated resources");
    }

    [Fact]
    public async Task Delete_UnknownOrAlreadyDeletedUpload_Returns404()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        (await host.Client.DeleteUploadAsync(url)).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var again = await host.Client.DeleteUploadAsync(url);
        using var unknown = await host.Client.DeleteUploadAsync("/" + new string('c', 32));

        again.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Gone);
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
