using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The tus 1.0.0 core protocol: Tus-Resumable/Tus-Version, OPTIONS, HEAD, PATCH and X-HTTP-Method-Override.</summary>
public sealed class CoreTests
{
    private static readonly string[] AllExtensions =
    [
        "creation", "creation-with-upload", "creation-defer-length", "termination", "expiration",
        "checksum", "checksum-trailer", "concatenation", "concatenation-unfinished",
    ];

    [Fact]
    public async Task Options_ListsVersionExtensionsMaxSizeAndChecksumAlgorithms()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 5_000_000);
        using var request = TusClient.Request(HttpMethod.Options, "", version: null);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().BeOneOf(HttpStatusCode.NoContent, HttpStatusCode.OK);
        response.Header("Tus-Version").Should().Be("1.0.0");
        response.Header("Tus-Resumable").Should().Be("1.0.0");
        response.Header("Tus-Max-Size").Should().Be("5000000");
        response.Header("Tus-Extension")!.Split(',').Should().BeEquivalentTo(AllExtensions);
        response.Header("Tus-Checksum-Algorithm")!.Split(',').Should().Contain("sha1", "the checksum extension requires sha1")
            .And.BeEquivalentTo(["sha1", "md5", "sha256", "sha512"]);
    }

    [Fact]
    public async Task Options_WithUnsupportedTusResumable_IsIgnoredAndAnswered()
    {
        // "The Client SHOULD NOT include the Tus-Resumable header in the request and the Server MUST ignore the header."
        await using var host = await UploadTestHost.StartAsync();
        using var request = TusClient.Request(HttpMethod.Options, "", version: "0.2.2");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().BeOneOf(HttpStatusCode.NoContent, HttpStatusCode.OK);
        response.Header("Tus-Version").Should().Be("1.0.0");
    }

    [Fact]
    public async Task AnyRequest_UnsupportedTusResumable_Returns412WithTusVersion()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        (await host.Client.PatchAsync(url, 0, "hello"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var create = TusClient.CreateRequest(length: 10);
        using var head = TusClient.Request(HttpMethod.Head, url);
        using var patch = TusClient.PatchRequest(url, 5, "world"u8.ToArray());
        using var delete = TusClient.Request(HttpMethod.Delete, url);
        var responses = new List<HttpResponseMessage>();
        foreach (var request in new[] { create, head, patch, delete })
        {
            request.Headers.Remove("Tus-Resumable");
            request.Headers.TryAddWithoutValidation("Tus-Resumable", "0.2.2");
            responses.Add(await host.Client.SendAsync(request));
        }

        foreach (var response in responses)
        {
            response.StatusCode.Should().Be(HttpStatusCode.PreconditionFailed, "{0} {1}", response.RequestMessage!.Method, response.RequestMessage.RequestUri);
            response.Header("Tus-Version").Should().Be("1.0.0");
            response.Headers.Location.Should().BeNull("the creation request must not be processed");
            response.Dispose();
        }

        // "In addition, the Server MUST NOT process the request": the PATCH appended nothing, the DELETE removed nothing.
        (await host.Client.GetOffsetAsync(url)).Should().Be(5);
    }

    [Fact]
    public async Task AnyUploadRequest_WithoutTusResumable_Returns412WithTusVersion()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);

        using var head = TusClient.Request(HttpMethod.Head, url, version: null);
        using var response = await host.Client.SendAsync(head);

        response.StatusCode.Should().Be(HttpStatusCode.PreconditionFailed);
        response.Header("Tus-Version").Should().Be("1.0.0");
    }

    [Fact]
    public async Task Post_WithoutTusResumableOnMappedEndpoints_Returns412WithTusVersion()
    {
        // With MapResumableUploads the collection endpoint is a route, so a POST without Tus-Resumable reaches tus
        // and is refused. (With UseResumableUploads it is not a tus request and goes to the next middleware.)
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app => app.MapResumableUploads("/files"));
        using var request = TusClient.CreateRequest("files", length: 10);
        request.Headers.Remove("Tus-Resumable");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.PreconditionFailed);
        response.Header("Tus-Version").Should().Be("1.0.0");
    }

    [Fact]
    public async Task Post_WithoutTusResumableUnderUseResumableUploads_GoesToTheNextMiddleware()
    {
        // A documented difference between the two wirings: the middleware only claims collection POSTs that say
        // they speak tus, so the rest of the app keeps its own POST / handler.
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.UseResumableUploads("/files");
            app.Run(context => context.Response.WriteAsync("next"));
        });
        using var request = TusClient.CreateRequest("files", length: 10);
        request.Headers.Remove("Tus-Resumable");

        using var response = await host.Client.SendAsync(request);

        (await response.Content.ReadAsStringAsync()).Should().Be("next");
    }

    [Fact]
    public async Task Responses_AlwaysCarryTusResumable()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000);
        var responses = new List<(string What, HttpResponseMessage Response)>();
        async Task Send(string what, HttpRequestMessage request)
        {
            responses.Add((what, await host.Client.SendAsync(request)));
            request.Dispose();
        }

        var url = await host.Client.CreateUploadAsync(length: 10);
        await Send("201 creation", TusClient.CreateRequest(length: 10));
        await Send("204 options", TusClient.Request(HttpMethod.Options, "", version: null));
        await Send("200 head", TusClient.Request(HttpMethod.Head, url));
        await Send("204 patch", TusClient.PatchRequest(url, 0, new byte[4]));
        await Send("400 creation without length", TusClient.CreateRequest());
        await Send("404 head", TusClient.Request(HttpMethod.Head, "/" + new string('a', 32)));
        await Send("409 patch", TusClient.PatchRequest(url, 0, new byte[4]));
        await Send("412 head", TusClient.Request(HttpMethod.Head, url, version: "0.2.2"));
        await Send("413 creation", TusClient.CreateRequest(length: 1_001));
        await Send("415 patch", TusClient.PatchRequest(url, 4, new byte[4], contentType: "application/octet-stream"));
        await Send("460 patch", TusClient.PatchRequest(url, 4, new byte[4], checksum: TusClient.Checksum("sha1", new byte[] { 1 })));
        await Send("405 put", TusClient.Request(HttpMethod.Put, url));
        await Send("204 delete", TusClient.Request(HttpMethod.Delete, url));
        await Send("404 patch after delete", TusClient.PatchRequest(url, 4, new byte[4]));

        foreach (var (what, response) in responses)
        {
            ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture).Should().Be(what[..3], what);
            response.Header("Tus-Resumable").Should().Be("1.0.0", "every response carries Tus-Resumable ({0})", what);
            response.Dispose();
        }
    }

    [Fact]
    public async Task Head_KnownUpload_Returns200WithOffsetLengthAndCacheControlNoStore()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 100);

        using var fresh = await host.Client.HeadAsync(url);
        (await host.Client.PatchAsync(url, 0, new byte[70])).StatusCode.Should().Be(HttpStatusCode.NoContent);
        using var partial = await host.Client.HeadAsync(url);
        (await host.Client.PatchAsync(url, 70, new byte[30])).StatusCode.Should().Be(HttpStatusCode.NoContent);
        using var completed = await host.Client.HeadAsync(url);

        foreach (var (response, offset) in new[] { (fresh, "0"), (partial, "70"), (completed, "100") })
        {
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            response.Header("Upload-Offset").Should().Be(offset, "HEAD always includes Upload-Offset, even 0 or when completed");
            response.Header("Upload-Length").Should().Be("100");
            response.Headers.CacheControl!.NoStore.Should().BeTrue();
            response.Header("Upload-Defer-Length").Should().BeNull("the length is not deferred");
        }
    }

    [Fact]
    public async Task Head_UnknownUpload_Returns404WithoutUploadOffset()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.HeadAsync("/" + new string('0', 32));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Header("Upload-Offset").Should().BeNull();
    }

    [Fact]
    public async Task Patch_AtCurrentOffset_Returns204WithNewOffsetAndAppliesTheBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        using var first = await host.Client.PatchAsync(url, 0, file.AsMemory(0, 70_000));
        using var second = await host.Client.PatchAsync(url, 70_000, file.AsMemory(70_000));

        first.StatusCode.Should().Be(HttpStatusCode.NoContent);
        first.Header("Upload-Offset").Should().Be("70000", "the new offset is the old one plus the bytes stored");
        second.StatusCode.Should().Be(HttpStatusCode.NoContent);
        second.Header("Upload-Offset").Should().Be("100000");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Patch_ChunkedBody_IsAppliedLikeAKnownLengthBody()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(50_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        using var response = await host.Client.PatchAsync(url, 0, file, chunked: true);

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        response.Header("Upload-Offset").Should().Be("50000");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData("application/octet-stream")]
    [InlineData("text/plain")]
    [InlineData(null)]
    public async Task Patch_WrongContentType_Returns415(string? contentType)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);

        using var response = await host.Client.PatchAsync(url, 0, new byte[10], contentType: contentType);

        response.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Fact]
    public async Task Patch_OffsetMismatch_Returns409AndLeavesUploadUnchanged()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(10_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 4_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var ahead = await host.Client.PatchAsync(url, 5_000, file.AsMemory(5_000));
        using var behind = await host.Client.PatchAsync(url, 3_000, Protocol.RandomBytes(7_000, seed: 9));

        ahead.StatusCode.Should().Be(HttpStatusCode.Conflict);
        behind.StatusCode.Should().Be(HttpStatusCode.Conflict);
        ahead.Header("Upload-Offset").Should().Be("4000", "the conflict tells the client where to resume");
        (await host.Client.GetOffsetAsync(url)).Should().Be(4_000);
        (await host.Client.PatchAsync(url, 4_000, file.AsMemory(4_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file, "the refused PATCHes changed nothing");
    }

    [Fact]
    public async Task Patch_WithoutUploadOffset_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        using var request = TusClient.PatchRequest(url, 0, new byte[10]);
        request.Headers.Remove("Upload-Offset");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData("5.0")]
    [InlineData("")]
    public async Task Patch_MalformedUploadOffset_Returns400(string offset)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        using var request = TusClient.PatchRequest(url, 0, new byte[10]);
        request.Headers.Remove("Upload-Offset");
        request.Headers.TryAddWithoutValidation("Upload-Offset", offset);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Fact]
    public async Task Patch_BodyLongerThanUploadLength_Returns413AndStoresNothing()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);

        using var response = await host.Client.PatchAsync(url, 0, new byte[11]);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Fact]
    public async Task Patch_WhileAnotherPatchWritesTheUpload_Returns423AndTheFirstCompletes()
    {
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.LockWaitTimeout = TimeSpan.FromMilliseconds(200);
            o.ProgressPublishInterval = 4096;
        });
        var file = Protocol.RandomBytes(100_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "PATCH", url, ("Tus-Resumable", "1.0.0"), ("Content-Type", TusClient.OffsetOctetStream), ("Upload-Offset", "0"), ("Content-Length", "100000"));
        await stream.WriteAsync(file.AsMemory(0, 50_000));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetOffsetAsync(url) > 0)).Should().BeTrue();

        var current = await host.Client.GetOffsetAsync(url);
        using var second = await host.Client.PatchAsync(url, current, Protocol.RandomBytes(10, seed: 3));

        second.StatusCode.Should().Be(HttpStatusCode.Locked);
        second.Header("Tus-Resumable").Should().Be("1.0.0");
        await stream.WriteAsync(file.AsMemory(50_000));
        await stream.FlushAsync();
        (await TusClient.ReadResponseHeadAsync(stream)).Status.Should().Be(204);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Patch_UnknownUpload_Returns404()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.PatchAsync("/" + new string('b', 32), 0, new byte[10]);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Post_XHttpMethodOverridePatch_IsTreatedAsPatch()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(1_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);
        using var request = TusClient.PatchRequest(url, 0, file);
        request.Method = HttpMethod.Post;
        request.Headers.TryAddWithoutValidation("X-HTTP-Method-Override", "PATCH");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        response.Header("Upload-Offset").Should().Be("1000");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Post_XHttpMethodOverrideDeleteAndHead_AreTreatedAsThoseMethods()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);
        using var head = TusClient.Request(HttpMethod.Post, url);
        head.Headers.TryAddWithoutValidation("X-HTTP-Method-Override", "HEAD");
        using var delete = TusClient.Request(HttpMethod.Post, url);
        delete.Headers.TryAddWithoutValidation("X-HTTP-Method-Override", "DELETE");

        using var headResponse = await host.Client.SendAsync(head);
        using var deleteResponse = await host.Client.SendAsync(delete);

        headResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        headResponse.Header("Upload-Offset").Should().Be("0");
        deleteResponse.StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.HeadAsync(url)).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task MapResumableUploads_ServesTusAtThePatternAndUploadsAtPatternSlashId()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.MapResumableUploads("/api/files");
            app.MapGet("/", () => "home");
        });
        var file = Protocol.RandomBytes(3_000);
        using var options = TusClient.Request(HttpMethod.Options, "api/files", version: null);
        (await host.Client.SendAsync(options)).Header("Tus-Version").Should().Be("1.0.0");

        var url = await host.Client.CreateUploadAsync(length: file.Length, collection: "api/files");

        TusClient.UploadUrl().Match(url).Groups["prefix"].Value.Should().Be("/api/files");
        (await host.Client.PatchAsync(url, 0, file)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
        (await host.Client.GetStringAsync("")).Should().Be("home");
    }

    [Fact]
    public async Task UseResumableUploads_WithPrefix_ServesTusUnderThePrefixAndPassesOtherPathsOn()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.UseResumableUploads("/files");
            app.Run(context => context.Response.WriteAsync("next:" + context.Request.Path));
        });

        var url = await host.Client.CreateUploadAsync(length: 5, collection: "files");

        TusClient.UploadUrl().Match(url).Groups["prefix"].Value.Should().Be("/files");
        (await host.Client.PatchAsync(url, 0, "hello"u8.ToArray())).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetStringAsync(url)).Should().Be("hello");
        (await host.Client.GetStringAsync("files/not-an-upload-id")).Should().Be("next:/files/not-an-upload-id");
    }
}
