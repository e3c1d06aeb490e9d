using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>Upload creation (<c>POST /</c>), per interop version.</summary>
public sealed class CreationTests
{
    [Fact]
    public async Task V3_Creation_IncompleteUpload_Returns201WithUploadIncompleteTrueAndOffset()
    {
        // v3: "If the request is incomplete ... MUST be 201 with Upload-Incomplete: ?1"; Upload-Offset while active.
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(3, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        IetfClient.UploadUrl().IsMatch(response.Headers.Location!.OriginalString).Should().BeTrue();
        response.Header("Upload-Incomplete").Should().Be("?1");
        response.Header("Upload-Offset").Should().Be("25");
        response.Header("Upload-Complete").Should().BeNull("v3 has no Upload-Complete");
    }

    [Fact]
    public async Task V3_Creation_CompleteUpload_Returns201WithOffsetAndNotUploadIncompleteTrue()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);

        using var response = await host.Client.CreateAsync(3, file, complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.Created, "201 is RECOMMENDED for a complete upload");
        response.Headers.Location.Should().NotBeNull("the server MUST send Location");
        response.Header("Upload-Offset").Should().Be("100");
        response.Header("Upload-Incomplete").Should().NotBe("?1");
        (await host.Client.GetByteArrayAsync(response.Headers.Location)).Should().Equal(file);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task V4_Creation_IncompleteUpload_Returns201WithUploadCompleteFalseAndOffset(int version)
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(version, Protocol.RandomBytes(25), complete: false);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        IetfClient.UploadUrl().IsMatch(response.Headers.Location!.OriginalString).Should().BeTrue();
        response.Header("Upload-Complete").Should().Be("?0");
        response.Header("Upload-Offset").Should().Be("25");
        response.Header("Upload-Incomplete").Should().BeNull("Upload-Incomplete is gone from v4");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task V4_Creation_CompleteUpload_Returns201WithOffsetAndNotUploadCompleteFalse(int version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);

        using var response = await host.Client.CreateAsync(version, file, complete: true);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Headers.Location.Should().NotBeNull();
        response.Header("Upload-Offset").Should().Be("100");
        response.Header("Upload-Complete").Should().NotBe("?0");
        (await host.Client.GetByteArrayAsync(response.Headers.Location)).Should().Equal(file);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V5_Creation_EmptyIncompleteRequest_Returns201WithLocationAndOffset0(int version)
    {
        // "Careful" creation (v5 explains empty requests): get the URL first, then PATCH. What every client without
        // a 104 relies on.
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(version, ReadOnlyMemory<byte>.Empty, complete: false, uploadLength: 10);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        IetfClient.UploadUrl().IsMatch(response.Headers.Location!.OriginalString).Should().BeTrue();
        response.Header("Upload-Complete").Should().Be("?0");
        response.Header("Upload-Offset").Should().Be("0", "tus-js-client and every version before 7 read Upload-Offset");
    }

    [Fact]
    public async Task V6_Creation_IncompleteUpload_Returns201WithOffsetAndUploadLimitWithExpires()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000_000_000);

        using var response = await host.Client.CreateAsync(6, Protocol.RandomBytes(25), complete: false, uploadLength: 100);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("25");
        var limit = IetfClient.ParseLimit(response.Header("Upload-Limit"));
        limit.Should().Contain("max-size", 1_000_000_000);
        limit.Should().ContainKey("expires", "v6 names the lifetime 'expires'").And.NotContainKey("max-age");
        limit["expires"].Should().BePositive();
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V7_Creation_IncompleteUpload_Returns201WithLocationAndUploadLimitWithMaxAge(int version)
    {
        // v7: "?0 ... MUST send Location, SHOULD send Upload-Limit; 201 RECOMMENDED"; v8: Upload-Limit MUST.
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000_000_000);

        using var response = await host.Client.CreateAsync(version, Protocol.RandomBytes(25), complete: false, uploadLength: 100);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        IetfClient.UploadUrl().IsMatch(response.Headers.Location!.OriginalString).Should().BeTrue();
        response.Header("Upload-Complete").Should().Be("?0");
        var limit = IetfClient.ParseLimit(response.Header("Upload-Limit"));
        limit.Should().Contain("max-size", 1_000_000_000);
        limit.Should().ContainKey("max-age", "'expires' was renamed max-age in draft-06").And.NotContainKey("expires");
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task V7_Creation_CompleteUpload_Returns200WithUploadCompleteTrue(int version)
    {
        // From v7 a creation that completes gets the target resource's own response (here 200, no body).
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);

        using var response = await host.Client.CreateAsync(version, file, complete: true, uploadLength: 100);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Header("Upload-Complete").Should().Be("?1");
        var url = response.Headers.Location!.OriginalString;
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Creation_UploadLengthDisagreesWithContentLengthOfCompletingRequest_Returns400InconsistentUploadLength(int version)
    {
        // -05: "If Upload-Complete: ?1 and Content-Length are both present, their sizes must agree, otherwise 400";
        // from -06 (v7) with the inconsistent-upload-length problem type.
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(version, Protocol.RandomBytes(100), complete: true, uploadLength: 150);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Location.Should().BeNull("no upload is created");
        var problem = await response.ProblemAsync();
        if (version >= 7)
        {
            problem.GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "inconsistent-upload-length");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task V8_Creation_LargerThanMaxSize_Returns413WithUploadLimit(bool declareLength)
    {
        // Upload-Limit max-size is the limit; the editor's copy after -11 (still interop 8): "A 413 caused by upload
        // limits MUST carry Upload-Limit."
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000);

        using var response = await host.Client.CreateAsync(8, Protocol.RandomBytes(2_000), complete: false, uploadLength: declareLength ? 2_000 : null);

        response.Headers.Location.Should().BeNull();
        // Regression (fixed): without Upload-Length the front answers 400 inconsistent-upload-length ("longer than the upload ( bytes)")
        // instead of 413, and neither refusal carries Upload-Limit.
        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        IetfClient.ParseLimit(response.Header("Upload-Limit")).Should().Contain("max-size", 1_000);
    }

    [Theory]
    [MemberData(nameof(IetfClient.AllVersions), MemberType = typeof(IetfClient))]
    public async Task AnyVersion_Creation_WithUploadOffset_Returns400(int version)
    {
        // "The request MUST NOT include the Upload-Offset header field."
        await using var host = await UploadTestHost.StartAsync();
        using var request = IetfClient.CreateRequest(version, Protocol.RandomBytes(10), complete: false);
        request.Headers.TryAddWithoutValidation("Upload-Offset", "0");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Location.Should().BeNull();
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    public async Task Creation_UploadLength_IsRecordedAndReportedByHead(int version)
    {
        // -05: "Upload-Length SHOULD be sent when the size is known"; HEAD MUST carry it once recorded.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(version, Protocol.RandomBytes(10), uploadLength: 40);

        using var head = await host.Client.HeadAsync(version, url);

        head.Header("Upload-Length").Should().Be("40");
        head.Header("Upload-Offset").Should().Be("10");
    }

    [Fact]
    public async Task Creation_WithTusUploadMetadataAndDeferLength_FromTusJsClient_IsTolerated()
    {
        // tus-js-client sends its tus headers (Upload-Metadata, Upload-Defer-Length) on IETF creations too.
        await using var host = await UploadTestHost.StartAsync();
        using var request = IetfClient.CreateRequest(6, ReadOnlyMemory<byte>.Empty, complete: false);
        request.Headers.TryAddWithoutValidation("Upload-Metadata", "filename " + Convert.ToBase64String("a.txt"u8));
        request.Headers.TryAddWithoutValidation("Upload-Defer-Length", "1");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Headers.Location.Should().NotBeNull();
    }

    [Fact]
    public async Task Creation_UnderAPrefix_LocationIsThePrefixedUploadResource()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app => Microsoft.AspNetCore.Builder.ResumableUploadEndpointRouteBuilderExtensions.MapResumableUploads(app, "/files"));
        using var request = IetfClient.CreateRequest(8, Protocol.RandomBytes(5), complete: false);
        request.RequestUri = new Uri("/files", UriKind.Relative);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var location = response.Headers.Location!.OriginalString;
        location.Should().MatchRegex("^/files/[0-9a-f]{32}$");
        (await host.Client.GetOffsetAsync(8, location)).Should().Be(5);
    }
}
