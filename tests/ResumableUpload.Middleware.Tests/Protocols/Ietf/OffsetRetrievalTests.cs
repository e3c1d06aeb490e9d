using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>Offset retrieval (<c>HEAD</c> on the upload resource), per interop version.</summary>
public sealed class OffsetRetrievalTests
{
    [Fact]
    public async Task V3_Head_Returns204WithOffsetIncompleteAndNoStore()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(3, Protocol.RandomBytes(25));

        using var head = await host.Client.HeadAsync(3, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Incomplete").Should().Be("?1");
        head.Header("Cache-Control").Should().Be("no-store");
        head.Header("Upload-Complete").Should().BeNull();
        head.Header("Upload-Limit").Should().BeNull("v3 has no limits");
    }

    [Fact]
    public async Task V3_Head_CompletedUpload_HasNoUploadLength()
    {
        // Upload-Length does not exist before -05 (interop 6); a v3 response should only use v3 headers.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(3, Protocol.RandomBytes(25));
        (await host.Client.PatchAsync(3, url, 25, Protocol.RandomBytes(25), complete: true)).StatusCode.Should().Be(HttpStatusCode.Created);

        using var head = await host.Client.HeadAsync(3, url);

        head.Header("Upload-Incomplete").Should().Be("?0");
        // Regression (fixed): HeadAsync adds Upload-Length whenever the record has a length, in every version; a completed
        // v3 upload answers "Upload-Length: 50", a header v3 does not define (harmless to v3 clients).
        head.Header("Upload-Length").Should().BeNull();
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task V5_Head_Returns204WithOffsetCompleteAndNoStore(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(25));

        using var head = await host.Client.HeadAsync(version, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Cache-Control").Should().Be("no-store");
        head.Header("Upload-Incomplete").Should().BeNull();
        head.Header("Upload-Limit").Should().BeNull("limits arrived in v6");
    }

    [Fact]
    public async Task V6_Head_CarriesUploadLengthAndUploadLimitWithExpires()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 5_000);
        var url = await host.Client.CreateIncompleteAsync(6, Protocol.RandomBytes(25), uploadLength: 100);

        using var head = await host.Client.HeadAsync(6, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Length").Should().Be("100");
        head.Header("Cache-Control").Should().Be("no-store");
        var limit = IetfClient.ParseLimit(head.Header("Upload-Limit"));
        limit.Should().Contain("max-size", 5_000).And.ContainKey("expires").And.NotContainKey("max-age");
    }

    [Fact]
    public async Task V7_Head_CarriesUploadLimitWithMaxAge()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(7, Protocol.RandomBytes(25), uploadLength: 100);

        using var head = await host.Client.HeadAsync(7, url);

        ((int)head.StatusCode).Should().BeInRange(200, 299);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Length").Should().Be("100");
        IetfClient.ParseLimit(head.Header("Upload-Limit")).Should().ContainKey("max-age").And.NotContainKey("expires");
    }

    [Fact]
    public async Task V8_Head_CarriesUploadLimit()
    {
        // -09: "Upload-Limit (MUST)" on HEAD.
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.MaxUploadSize = 1_000_000_000;
            o.IncompleteUploadExpiration = TimeSpan.FromHours(1);
        });
        var url = await host.Client.CreateIncompleteAsync(8, Protocol.RandomBytes(25), uploadLength: 100);

        using var head = await host.Client.HeadAsync(8, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Length").Should().Be("100");
        head.Header("Cache-Control").Should().Be("no-store");
        var limit = IetfClient.ParseLimit(head.Header("Upload-Limit"));
        limit.Should().Contain("max-size", 1_000_000_000);
        limit["max-age"].Should().BeInRange(1, 3600);
    }

    [Fact]
    public async Task V8_Head_CompletedUpload_HasUploadCompleteTrueAndOffsetEqualToLength()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(8, Protocol.RandomBytes(25), uploadLength: 40);
        (await host.Client.PatchAsync(8, url, 25, Protocol.RandomBytes(15), complete: true)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var head = await host.Client.HeadAsync(8, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Complete").Should().Be("?1");
        head.Header("Upload-Offset").Should().Be("40");
        head.Header("Upload-Length").Should().Be("40");
    }

    [Theory]
    [MemberData(nameof(IetfClient.AllVersions), MemberType = typeof(IetfClient))]
    public async Task AnyVersion_Head_WithUploadOffsetHeader_Returns400(int version)
    {
        // "The request MUST NOT include an Upload-Offset ... header field."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));
        using var request = IetfClient.Request(HttpMethod.Head, url, version);
        request.Headers.TryAddWithoutValidation("Upload-Offset", "5");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [MemberData(nameof(IetfClient.AllVersions), MemberType = typeof(IetfClient))]
    public async Task AnyVersion_Head_WithCompletionHeader_Returns400(int version)
    {
        // "... or Upload-Incomplete (v3) / Upload-Complete (v4+) header field."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));
        using var request = IetfClient.Request(HttpMethod.Head, url, version);
        var (name, value) = IetfClient.Completion(version, complete: false);
        request.Headers.TryAddWithoutValidation(name, value);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V6_Head_WithUploadLengthHeader_Returns400(int version)
    {
        // -05: "The request MUST NOT include an Upload-Offset, Upload-Complete, or Upload-Length header field."
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(5));
        using var request = IetfClient.Request(HttpMethod.Head, url, version);
        request.Headers.TryAddWithoutValidation("Upload-Length", "10");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task AnyVersion_Head_UnknownUpload_Returns404(int version)
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.HeadAsync(version, "/" + new string('a', 32));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Header("Upload-Offset").Should().BeNull();
    }
}
