using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>Upload cancellation (<c>DELETE</c>), <c>OPTIONS</c> discovery and RFC 9530 digests.</summary>
public sealed class CancellationAndDiscoveryTests
{
    [Theory]
    [MemberData(nameof(IetfClient.AllVersions), MemberType = typeof(IetfClient))]
    public async Task Delete_Returns204ThenHead404(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(25));

        using var delete = await host.Client.DeleteAsync(version, url);
        using var head = await host.Client.HeadAsync(version, url);
        using var patch = await host.Client.PatchAsync(version, url, 25, Protocol.RandomBytes(5), complete: false);
        using var again = await host.Client.DeleteAsync(version, url);

        delete.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
        patch.StatusCode.Should().Be(HttpStatusCode.NotFound);
        again.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData(3, "Upload-Offset")]
    [InlineData(3, "Upload-Incomplete")]
    [InlineData(6, "Upload-Offset")]
    [InlineData(6, "Upload-Complete")]
    [InlineData(8, "Upload-Complete")]
    public async Task AnyVersion_Delete_WithUploadOffsetOrCompletionHeader_Returns400(int version, string header)
    {
        // "The request MUST NOT include an Upload-Offset or Upload-Complete (Upload-Incomplete) header field."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));
        using var request = IetfClient.Request(HttpMethod.Delete, url, version);
        request.Headers.TryAddWithoutValidation(header, header == "Upload-Offset" ? "5" : "?0");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(5, "the upload is still there");
    }

    [Fact]
    public async Task Options_HasUploadLimitAndAcceptPatch()
    {
        // -05: OPTIONS on a creation target MUST carry Upload-Limit; -10: MUST carry Accept-Patch with application/partial-upload.
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 123_456);
        using var request = IetfClient.Request(HttpMethod.Options, "/", 8);

        using var response = await host.Client.SendAsync(request);

        ((int)response.StatusCode).Should().BeInRange(200, 299);
        var limit = IetfClient.ParseLimit(response.Header("Upload-Limit"));
        limit.Should().Contain("max-size", 123_456).And.ContainKey("max-age");
        response.Header("Accept-Patch")!.Split(',').Select(v => v.Trim()).Should().Contain(IetfClient.PartialUpload);
    }

    [Fact]
    public async Task V6_Options_UploadLimitNamesTheLifetimeExpires()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = IetfClient.Request(HttpMethod.Options, "/", 6);

        using var response = await host.Client.SendAsync(request);

        IetfClient.ParseLimit(response.Header("Upload-Limit")).Should().ContainKey("expires").And.NotContainKey("max-age");
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    public async Task Append_ContentDigestMatch_IsAppended(int version)
    {
        // RFC 9530 Content-Digest covers the request's body.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10, seed: 1));
        var chunk = Protocol.RandomBytes(500, seed: 2);

        using var response = await host.Client.PatchAsync(version, url, 10, chunk, complete: false, contentDigest: IetfClient.Sha256Digest(chunk));

        response.IsSuccessStatusCode.Should().BeTrue();
        (await host.Client.GetOffsetAsync(version, url)).Should().Be(510);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    public async Task Append_ContentDigestMismatch_IsNotAppended(int version)
    {
        // "On mismatch the server SHOULD treat the transfer as failed and not append the content."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10, seed: 1));
        var chunk = Protocol.RandomBytes(500, seed: 2);

        using var response = await host.Client.PatchAsync(version, url, 10, chunk, complete: true, contentDigest: IetfClient.Sha256Digest(Protocol.RandomBytes(500, seed: 3)));

        ((int)response.StatusCode).Should().BeInRange(400, 499, "the transfer failed");
        using var head = await host.Client.HeadAsync(version, url);
        head.Header("Upload-Offset").Should().Be("10", "nothing of the body was appended");
        head.Header("Upload-Complete").Should().Be("?0");
    }

    [Fact]
    public async Task Append_ContentDigestOfOnlyUnknownAlgorithms_IsIgnored()
    {
        // RFC 9530: a recipient ignores algorithms it does not support.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(8, ReadOnlyMemory<byte>.Empty);

        using var response = await host.Client.PatchAsync(8, url, 0, Protocol.RandomBytes(10), complete: false, contentDigest: "unixsum=:AAAA:");

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetOffsetAsync(8, url)).Should().Be(10);
    }

    [Fact]
    public async Task Creation_ContentDigestMatch_IsStored()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(300);
        using var request = IetfClient.CreateRequest(8, file, complete: true);
        request.Headers.TryAddWithoutValidation("Content-Digest", IetfClient.Sha256Digest(file));

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetByteArrayAsync(response.Headers.Location)).Should().Equal(file);
    }
}
