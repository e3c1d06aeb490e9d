using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The creation, creation-with-upload and creation-defer-length extensions.</summary>
public sealed class CreationTests
{
    [Fact]
    public async Task Post_WithUploadLength_Returns201WithLocationOfANewUploadAtOffset0()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(length: 100);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var location = response.Headers.Location!.OriginalString;
        TusClient.UploadUrl().IsMatch(location).Should().BeTrue();
        using var head = await host.Client.HeadAsync(location);
        head.StatusCode.Should().Be(HttpStatusCode.OK);
        head.Header("Upload-Offset").Should().Be("0", "a new upload has an implicit offset of 0");
        head.Header("Upload-Length").Should().Be("100");
    }

    [Fact]
    public async Task Post_UploadMetadata_IsReturnedOnHeadAsSent()
    {
        await using var host = await UploadTestHost.StartAsync();
        var metadata = $"filename {TusClient.Base64("world_domination plan.pdf")},is_confidential,caption {TusClient.Base64("Ünïcödé, with a comma")}";

        var url = await host.Client.CreateUploadAsync(length: 10, metadata: metadata);
        using var head = await host.Client.HeadAsync(url);

        head.Header("Upload-Metadata")!.Split(',').Should().BeEquivalentTo(metadata.Split(','));
    }

    [Fact]
    public async Task Head_UploadWithoutMetadata_HasNoUploadMetadata()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);

        using var head = await host.Client.HeadAsync(url);

        head.Header("Upload-Metadata").Should().BeNull();
    }

    [Theory]
    [InlineData("filename not*base64")]
    [InlineData("filename aGVsbG8= extra")]
    [InlineData("a aGVsbG8=,a d29ybGQ=")]
    [InlineData("a aGVsbG8=,,b d29ybGQ=")]
    public async Task Post_MalformedUploadMetadata_Returns400AndCreatesNothing(string metadata)
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(length: 10, metadata: metadata);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Location.Should().BeNull();
    }

    [Fact]
    public async Task Post_MetadataValueThatIsNotUtf8_Returns400()
    {
        // A documented limitation (docs/tus.md): values are decoded as UTF-8, so binary values are refused. The spec
        // allows a server to reject metadata ("The Server MAY decide to ignore or use this information ... or to reject it").
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(length: 10, metadata: "blob " + Convert.ToBase64String(new byte[] { 0xff, 0xfe, 0x00, 0x80 }));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Post_UploadLengthOverMaxUploadSize_Returns413()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000);

        using var atLimit = await host.Client.CreateAsync(length: 1_000);
        using var over = await host.Client.CreateAsync(length: 1_001);

        atLimit.StatusCode.Should().Be(HttpStatusCode.Created);
        over.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        over.Headers.Location.Should().BeNull();
    }

    [Fact]
    public async Task Post_NeitherUploadLengthNorUploadDeferLength_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync();

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Location.Should().BeNull();
    }

    [Fact]
    public async Task Post_BothUploadLengthAndUploadDeferLength_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(length: 10, defer: true);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("true")]
    [InlineData("2")]
    public async Task Post_UploadDeferLengthOtherThan1_Returns400(string value)
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = TusClient.CreateRequest();
        request.Headers.TryAddWithoutValidation("Upload-Defer-Length", value);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1e3")]
    [InlineData("abc")]
    public async Task Post_UploadLengthNotANonNegativeInteger_Returns400(string value)
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = TusClient.CreateRequest();
        request.Headers.TryAddWithoutValidation("Upload-Length", value);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Post_UploadLength0_CreatesACompletedEmptyUpload()
    {
        await using var host = await UploadTestHost.StartAsync();

        var url = await host.Client.CreateUploadAsync(length: 0);
        using var head = await host.Client.HeadAsync(url);

        head.Header("Upload-Offset").Should().Be("0");
        head.Header("Upload-Length").Should().Be("0");
        (await host.Client.GetByteArrayAsync(url)).Should().BeEmpty();
    }

    // creation-with-upload

    [Fact]
    public async Task PostWithBody_Returns201WithUploadOffsetOfTheAcceptedBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);

        using var response = await host.Client.CreateAsync(length: file.Length, body: file.AsMemory(0, 5));

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("5");
        var url = response.Headers.Location!.OriginalString;
        (await host.Client.GetOffsetAsync(url)).Should().Be(5);
        (await host.Client.PatchAsync(url, 5, file.AsMemory(5))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task PostWithWholeBody_CompletesTheUpload()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(40_000);

        using var response = await host.Client.CreateAsync(length: file.Length, body: file);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Header("Upload-Offset").Should().Be("40000");
        (await host.Client.GetByteArrayAsync(response.Headers.Location!.OriginalString)).Should().Equal(file);
    }

    [Fact]
    public async Task PostWithBody_WrongContentType_Returns415AndCreatesNothing()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = TusClient.CreateRequest(length: 10, body: new byte[5]);
        request.Content!.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        response.Headers.Location.Should().BeNull();
    }

    [Fact]
    public async Task PostWithBody_LongerThanUploadLength_Returns413AndLeavesNoUploadBehind()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.CreateAsync(length: 5, body: new byte[10]);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        response.Headers.Location.Should().BeNull();
        // Regression: TusProtocolHandler.CreateAsync used to create the upload record (engine CreateAsync) before the body is
        // refused by BeginAppendAsync, and the 413 carries no Location: an upload nobody can reach stays stored
        // until it expires.
        StateFiles(host).Should().BeEmpty("a refused creation request should store nothing");
    }

    [Fact]
    public async Task PostWithBody_MismatchingChecksum_Returns460AndLeavesNoUploadBehind()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = TusClient.CreateRequest(length: 11, body: "hello world"u8.ToArray(), checksum: TusClient.Checksum("sha1", "HELLO WORLD"u8));

        using var response = await host.Client.SendAsync(request);

        ((int)response.StatusCode).Should().Be(460);
        response.Headers.Location.Should().BeNull();
        // Regression: as above, the record used to be created before the body is checked, and the 460 has no Location.
        StateFiles(host).Should().BeEmpty("a refused creation request should store nothing");
    }

    // creation-defer-length

    [Fact]
    public async Task Head_DeferredLengthUpload_HasUploadDeferLength1AndNoUploadLength()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);
        (await host.Client.PatchAsync(url, 0, new byte[10])).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var head = await host.Client.HeadAsync(url);

        head.Header("Upload-Defer-Length").Should().Be("1");
        head.Header("Upload-Length").Should().BeNull();
        head.Header("Upload-Offset").Should().Be("10");
    }

    [Fact]
    public async Task Patch_WithUploadLengthOnDeferredUpload_SetsTheLengthOnce()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(300);
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 100))).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var withLength = await host.Client.PatchAsync(url, 100, file.AsMemory(100, 100), uploadLength: 300);
        using var head = await host.Client.HeadAsync(url);
        using var last = await host.Client.PatchAsync(url, 200, file.AsMemory(200), uploadLength: 300);

        withLength.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Length").Should().Be("300");
        head.Header("Upload-Defer-Length").Should().BeNull("the length is no longer deferred");
        last.StatusCode.Should().Be(HttpStatusCode.NoContent, "repeating the same length is allowed");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Patch_DifferentLaterUploadLength_Returns400AndKeepsTheFirst()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);
        (await host.Client.PatchAsync(url, 0, new byte[100], uploadLength: 300)).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var changed = await host.Client.PatchAsync(url, 100, new byte[100], uploadLength: 400);

        changed.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var head = await host.Client.HeadAsync(url);
        head.Header("Upload-Length").Should().Be("300");
        head.Header("Upload-Offset").Should().Be("100");
    }

    [Fact]
    public async Task Patch_UploadLengthOnUploadCreatedWithALength_DifferentValueReturns400()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 300);

        using var changed = await host.Client.PatchAsync(url, 0, new byte[100], uploadLength: 200);

        changed.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Fact]
    public async Task Patch_DeferredUploadLengthEqualToOffsetWithEmptyBody_CompletesTheUpload()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(200);
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);
        (await host.Client.PatchAsync(url, 0, file)).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var response = await host.Client.PatchAsync(url, 200, ReadOnlyMemory<byte>.Empty, uploadLength: 200);

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        response.Header("Upload-Offset").Should().Be("200");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Patch_DeferredUploadLengthBelowTheOffset_Returns413()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);
        (await host.Client.PatchAsync(url, 0, new byte[100])).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var response = await host.Client.PatchAsync(url, 100, ReadOnlyMemory<byte>.Empty, uploadLength: 50);

        // A length below the stored offset can never be satisfied: refused as "past the declared length".
        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await host.Client.GetOffsetAsync(url)).Should().Be(100);
    }

    [Fact]
    public async Task Patch_DeferredUploadLengthOverMaxUploadSize_Returns413()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000);
        var url = await host.Client.CreateUploadAsync(length: null, defer: true);

        using var response = await host.Client.PatchAsync(url, 0, new byte[10], uploadLength: 1_001);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        using var head = await host.Client.HeadAsync(url);
        head.Header("Upload-Defer-Length").Should().Be("1");
        head.Header("Upload-Offset").Should().Be("0");
    }

    private static string[] StateFiles(UploadTestHost host)
    {
        var root = Path.Combine(host.StorageRoot, "state");
        return Directory.Exists(root) ? Directory.GetFiles(root, "*.json", SearchOption.AllDirectories) : [];
    }
}
