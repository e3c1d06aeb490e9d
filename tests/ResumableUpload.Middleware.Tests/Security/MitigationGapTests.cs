using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Tests.Infrastructure;
using IetfClient = ResumableUpload.Middleware.Tests.Protocols.Ietf.IetfClient;
using TusClient = ResumableUpload.Middleware.Tests.Protocols.Tus.TusClient;

namespace ResumableUpload.Middleware.Tests.Security;

/// <summary>
/// The rows of the "Threats and mitigations" table in docs/security.md that said "no test yet": ids kept out of
/// problem bodies and logs, control characters in <c>?fileId=</c>, duplicated number headers, the default
/// resolver's <c>sub</c> and <c>Identity.Name</c> fallbacks, the shared anonymous partition, <c>OnAuthorizing</c> on
/// the tus and IETF fronts, Kestrel's body limit on other endpoints, and the <c>Cache-Control</c> of downloads and
/// refusals.
/// </summary>
public sealed class MitigationGapTests
{
    /// <summary>An id no message of the library has any reason to contain by accident.</summary>
    private const string CanaryId = "canary-5f1e9d-secret-id";

    // (1) Leaking ids through logs or errors.
    [Fact]
    public async Task Refusals_ProblemBodiesAndLibraryLogs_NeverContainTheClientsId()
    {
        await using var host = await UploadTestHost.StartAsync();
        (await host.Client.UploadAsync(CanaryId, Protocol.RandomBytes(100), startByte: 0, fileSize: 1_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        var bodies = new List<(HttpStatusCode Status, string Body)>();

        // 409: a start byte that does not match the stored count, asked for as problem details.
        using (var request = Protocol.UploadRequest(CanaryId, Protocol.RandomBytes(10), startByte: 50, fileSize: 1_000))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/problem+json"));
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.Conflict);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // 400: a malformed X-Start-Byte.
        using (var request = Protocol.UploadRequest(CanaryId, Protocol.RandomBytes(10), startByte: null))
        {
            request.Headers.TryAddWithoutValidation("X-Start-Byte", "1e3");
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // 409: a declared length that differs from the stored one.
        using (var request = Protocol.UploadRequest(CanaryId, Protocol.RandomBytes(10), startByte: 100, fileSize: 2_000))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/problem+json"));
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.Conflict);
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // 404: the upload is not finished, so it cannot be downloaded (by header and by query string).
        using (var request = new HttpRequestMessage(HttpMethod.Get, "download"))
        {
            request.Headers.TryAddWithoutValidation("X-File-Id", CanaryId);
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.NotFound);
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        using (var response = await host.Client.GetAsync("download?fileId=" + Uri.EscapeDataString(CanaryId)))
        {
            response.StatusCode.Should().Be(HttpStatusCode.NotFound);
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        // 413: past the declared length.
        using (var response = await host.Client.UploadAsync(CanaryId, Protocol.RandomBytes(1_000), startByte: 100, fileSize: 1_000))
        {
            response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            bodies.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        bodies.Should().OnlyContain(b => b.Body.Length > 0, "every refusal carries a problem body to check");
        foreach (var (status, body) in bodies)
        {
            body.Should().NotContain(CanaryId, "the {0} problem body must not echo the client's id", status);
            body.Should().NotContain("canary", "not even part of the id may be echoed ({0})", status);
        }

        var entries = host.Logs.LibraryEntries;
        entries.Should().Contain(e => e.EventId.Id == 5, "the refusals were logged, so the log check has something to look at");
        entries.Should().Contain(e => e.EventId.Id == 1, "the creation was logged, so the log check has something to look at");
        foreach (var entry in entries)
        {
            entry.Message.Should().NotContain("canary", "log entry {0} ({1}) must carry the key, not the id", entry.EventId, entry.Category);
            (entry.Exception?.ToString() ?? string.Empty).Should().NotContain("canary");
        }
    }

    // (2) Control characters in ids: the ?fileId= query of download.
    [Theory]
    [InlineData("%01")]
    [InlineData("%00")]
    [InlineData("%0D%0A")]
    [InlineData("%0A")]
    [InlineData("%09")]
    [InlineData("%7F")]
    [InlineData("%C2%85")] // U+0085, a C1 control character
    public async Task Download_ControlCharacterInFileIdQuery_Is400(string encodedControl)
    {
        await using var host = await UploadTestHost.StartAsync();
        var id = "ctl" + Uri.UnescapeDataString(encodedControl) + "id";
        (await host.Client.UploadAsync("ctlid", Protocol.RandomBytes(20))).StatusCode.Should().Be(HttpStatusCode.OK);

        using var response = await host.Client.GetAsync("download?fileId=ctl" + encodedControl + "id");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, "the id {0} contains a control character", JsonSerializer.Serialize(id));
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("header").GetString().Should().Be("fileId");
        (await host.Client.DownloadAsync("ctlid")).Should().HaveCount(20, "the server keeps answering");
    }

    // (3) Malformed or ambiguous numbers: a duplicated header.
    [Theory]
    [InlineData("X-Start-Byte", "0", "X-Start-Byte", "0")]
    [InlineData("X-Start-Byte", "0", "x-start-byte", "10")]
    public async Task Upload_DuplicatedXStartByteHeader_Is400NamingXStartByteAndStoresNothing(string firstName, string firstValue, string secondName, string secondValue)
    {
        await using var host = await UploadTestHost.StartAsync();

        var response = await IetfClient.SendRawAsync(
            host,
            "POST",
            "/upload",
            Protocol.RandomBytes(10),
            ("X-File-Id", "dup"),
            (firstName, firstValue),
            (secondName, secondValue),
            ("Content-Type", "application/octet-stream"));

        response.Status.Should().Be(400);
        response.Header("Cache-Control").Should().Be("no-store");
        using var problem = JsonDocument.Parse(response.Body);
        problem.RootElement.GetProperty("header").GetString().Should().Be("X-Start-Byte");
        problem.RootElement.GetProperty("status").GetInt32().Should().Be(400);
        (await host.Client.GetStatusAsync("dup")).Should().Be(0, "the refused request stored nothing");
    }

    [Fact]
    public async Task Upload_DuplicatedXFileSizeHeader_Is400NamingXFileSize()
    {
        await using var host = await UploadTestHost.StartAsync();

        var response = await IetfClient.SendRawAsync(
            host,
            "POST",
            "/upload",
            Protocol.RandomBytes(10),
            ("X-File-Id", "dup"),
            ("X-Start-Byte", "0"),
            ("X-File-Size", "10"),
            ("X-File-Size", "10"));

        response.Status.Should().Be(400);
        using var problem = JsonDocument.Parse(response.Body);
        problem.RootElement.GetProperty("header").GetString().Should().Be("X-File-Size");
    }

    // (4) Reading or overwriting another user's upload: the sub and Identity.Name fallbacks.
    [Theory]
    [InlineData(ClaimShapeAuthenticationHandler.SubHeader)]
    [InlineData(ClaimShapeAuthenticationHandler.NameHeader)]
    public async Task DefaultResolver_UserIdentifiedOnlyBySubOrName_GetsOwnPartition(string identityHeader)
    {
        await using var host = await StartWithClaimShapesAsync();
        using var alice = ShapeClient(host, identityHeader, "alice");
        using var bob = ShapeClient(host, identityHeader, "bob");
        using var anonymous = host.CreateClient();

        (await alice.UploadAsync("same", Protocol.RandomBytes(1_500, seed: 1), startByte: 0, fileSize: 4_000)).StatusCode.Should().Be(HttpStatusCode.OK, "an identity with only {0} is served, not refused with 403", identityHeader);
        (await alice.GetStatusAsync("same")).Should().Be(1_500);
        (await bob.GetStatusAsync("same")).Should().Be(0, "bob's \"same\" is not alice's \"same\"");
        (await anonymous.GetStatusAsync("same")).Should().Be(0, "an identified user is not the anonymous partition");

        (await bob.UploadAsync("same", Protocol.RandomBytes(700, seed: 2))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await alice.GetStatusAsync("same")).Should().Be(1_500, "bob's upload leaves alice's bytes alone");
        (await bob.DownloadAsync("same")).Should().Equal(Protocol.RandomBytes(700, seed: 2));

        var partitions = new List<string?>();
        foreach (var state in Directory.EnumerateFiles(Path.Combine(host.StorageRoot, "state"), "*.json", SearchOption.AllDirectories))
        {
            using var record = JsonDocument.Parse(await File.ReadAllBytesAsync(state));
            partitions.Add(record.RootElement.GetProperty("partition").GetString());
        }

        partitions.Should().BeEquivalentTo(["user:alice", "user:bob"]);
    }

    [Fact]
    public async Task DefaultResolver_NameIdentifierWinsOverSubWhichWinsOverName()
    {
        await using var host = await StartWithClaimShapesAsync();
        using var subAndName = host.CreateClient();
        subAndName.DefaultRequestHeaders.Add(ClaimShapeAuthenticationHandler.SubHeader, "sub-1");
        subAndName.DefaultRequestHeaders.Add(ClaimShapeAuthenticationHandler.NameHeader, "name-1");
        using var subOnly = ShapeClient(host, ClaimShapeAuthenticationHandler.SubHeader, "sub-1");
        using var nameOnly = ShapeClient(host, ClaimShapeAuthenticationHandler.NameHeader, "name-1");

        (await subAndName.UploadAsync("order", Protocol.RandomBytes(300))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await subOnly.GetStatusAsync("order")).Should().Be(300, "with both, the sub claim names the partition");
        (await nameOnly.GetStatusAsync("order")).Should().Be(0, "the name is only the last fallback");
    }

    // (5) Anonymous clients tampering with each other's uploads: documented as not prevented by default.
    [Fact]
    public async Task AnonymousClients_ShareOnePartition_TheSecondSeesAndCanContinueTheFirstsUpload()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var first = host.CreateClient();
        using var second = host.CreateClient();
        var file = Protocol.RandomBytes(3_000, seed: 5);

        (await first.UploadAsync("shared", file.AsMemory(0, 1_200), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await second.GetStatusAsync("shared")).Should().Be(1_200, "anonymous clients share one partition (docs/security.md)");
        (await second.UploadAsync("shared", file.AsMemory(1_200), startByte: 1_200, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await first.DownloadAsync("shared")).Should().Equal(file);
    }

    // (6) Unauthorized use / terminating someone else's upload: OnAuthorizing on the tus and IETF fronts.
    [Fact]
    public async Task OnAuthorizing_RejectingDelete_TusDeleteIs403AndTheUploadRemains()
    {
        await using var host = await UploadTestHost.StartAsync(configureUploads: b => b.AddEvents<NoDeleteEvents>());
        var url = await TusClient.CreateUploadAsync(host.Client, length: 1_000);
        (await TusClient.PatchAsync(host.Client, url, 0, Protocol.RandomBytes(400))).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var delete = await TusClient.DeleteUploadAsync(host.Client, url);

        delete.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await delete.Content.ReadAsStringAsync()).Should().Contain(NoDeleteEvents.Detail);
        using var head = await TusClient.HeadAsync(host.Client, url);
        head.StatusCode.Should().Be(HttpStatusCode.OK, "the refused DELETE left the upload in place");
        TusClient.Header(head, "Upload-Offset").Should().Be("400");
        (await TusClient.PatchAsync(host.Client, url, 400, Protocol.RandomBytes(600))).StatusCode.Should().Be(HttpStatusCode.NoContent, "other operations are still allowed");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task OnAuthorizing_RejectingDelete_IetfDeleteIs403AndTheUploadRemains(int version)
    {
        await using var host = await UploadTestHost.StartAsync(configureUploads: b => b.AddEvents<NoDeleteEvents>());
        var url = await IetfClient.CreateIncompleteAsync(host.Client, version, Protocol.RandomBytes(25));

        using var delete = await IetfClient.DeleteAsync(host.Client, version, url);

        delete.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await delete.Content.ReadAsStringAsync()).Should().Contain(NoDeleteEvents.Detail);
        using var head = await IetfClient.HeadAsync(host.Client, version, url);
        ((int)head.StatusCode).Should().BeInRange(200, 299, "the refused DELETE left the upload in place");
        IetfClient.Header(head, "Upload-Offset").Should().Be("25");
    }

    // (7) Whole-app body limit: other endpoints keep Kestrel's own limit (30,000,000 bytes by default).
    [Fact]
    public async Task OtherEndpoint_BodyOverKestrelsDefaultLimit_IsRefused()
    {
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.UseResumableUploads();
            app.MapPost("/other", async (HttpContext c) =>
            {
                await c.Request.Body.CopyToAsync(Stream.Null);
                return Results.Ok();
            });
        });

        using (var small = await host.Client.PostAsync("other", new ByteArrayContent(new byte[1_000])))
        {
            small.StatusCode.Should().Be(HttpStatusCode.OK, "the endpoint itself works");
        }

        HttpStatusCode? status = null;
        Exception? failure = null;
        try
        {
            using var big = await host.Client.PostAsync("other", new ByteArrayContent(new byte[31_000_000]));
            status = big.StatusCode;
        }
        catch (HttpRequestException ex)
        {
            failure = ex;
        }

        if (failure is null)
        {
            status.Should().Be(HttpStatusCode.RequestEntityTooLarge, "the resumable-upload middleware must not lift the limit for other endpoints");
        }

        host.Logs.Entries.Should().NotContain(e => e.Level >= LogLevel.Error && e.Category.StartsWith("ResumableUpload.Middleware.", StringComparison.Ordinal));
    }

    // (8) Downloads cached by shared proxies.
    [Fact]
    public async Task Download_IsPrivateNoCache_AndRefusalsAreNoStore()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(2_000);
        (await host.Client.UploadAsync("cached", file)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("partial", file.AsMemory(0, 10), startByte: 0, fileSize: 2_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        using (var request = new HttpRequestMessage(HttpMethod.Get, "download"))
        {
            request.Headers.TryAddWithoutValidation("X-File-Id", "cached");
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            AssertPrivateNoCache(response);
            (await response.Content.ReadAsByteArrayAsync()).Should().Equal(file);
        }

        using (var response = await host.Client.GetAsync("download?fileId=cached"))
        {
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            AssertPrivateNoCache(response);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "download"))
        {
            request.Headers.TryAddWithoutValidation("X-File-Id", "cached");
            request.Headers.Range = new RangeHeaderValue(100, 199);
            using var response = await host.Client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.PartialContent);
            AssertPrivateNoCache(response);
        }

        // tus serves a finished upload with GET too.
        var url = await TusClient.CreateUploadAsync(host.Client, length: 5);
        (await TusClient.PatchAsync(host.Client, url, 0, file.AsMemory(0, 5))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        using (var response = await host.Client.GetAsync(url))
        {
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            AssertPrivateNoCache(response);
        }

        // Refusals: 404 (unknown and unfinished), 400 (malformed header), 409 (problem details asked for), 413.
        var refusals = new List<HttpResponseMessage>();
        try
        {
            refusals.Add(await host.Client.GetAsync("download?fileId=nope"));
            refusals.Add(await host.Client.GetAsync("download?fileId=partial"));
            refusals.Add(await host.Client.GetAsync("download"));
            using (var bad = Protocol.UploadRequest("cached", file, startByte: null))
            {
                bad.Headers.TryAddWithoutValidation("X-Start-Byte", "-1");
                refusals.Add(await host.Client.SendAsync(bad));
            }

            using (var conflict = Protocol.UploadRequest("partial", file.AsMemory(0, 10), startByte: 5, fileSize: 2_000))
            {
                conflict.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/problem+json"));
                refusals.Add(await host.Client.SendAsync(conflict));
            }

            refusals.Add(await host.Client.UploadAsync("partial", file, startByte: 10, fileSize: 2_000));
            refusals.Add(await host.Client.GetAsync("/" + new string('c', 32)));

            refusals.Select(r => (int)r.StatusCode).Should().Equal(404, 404, 400, 400, 409, 413, 404);
            foreach (var refusal in refusals)
            {
                refusal.Headers.CacheControl.Should().NotBeNull("a {0} refusal must carry Cache-Control", (int)refusal.StatusCode);
                refusal.Headers.CacheControl!.NoStore.Should().BeTrue("a {0} refusal must be no-store", (int)refusal.StatusCode);
                refusal.Headers.CacheControl.Private.Should().BeFalse();
            }
        }
        finally
        {
            refusals.ForEach(r => r.Dispose());
        }
    }

    private static void AssertPrivateNoCache(HttpResponseMessage response)
    {
        var cacheControl = response.Headers.CacheControl;
        cacheControl.Should().NotBeNull("a download must carry Cache-Control");
        cacheControl!.Private.Should().BeTrue("shared caches must not keep a user's upload");
        cacheControl.NoCache.Should().BeTrue("a download must be revalidated");
        cacheControl.NoStore.Should().BeFalse();
        cacheControl.Public.Should().BeFalse();
    }

    private static Task<UploadTestHost> StartWithClaimShapesAsync()
        => UploadTestHost.StartAsync(
            configureServices: services => services.AddAuthentication(ClaimShapeAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, ClaimShapeAuthenticationHandler>(ClaimShapeAuthenticationHandler.SchemeName, null),
            configurePipeline: app =>
            {
                app.UseAuthentication();
                app.UseResumableUploads();
            });

    private static HttpClient ShapeClient(UploadTestHost host, string header, string value)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Add(header, value);
        return client;
    }

    /// <summary>Refuses every <see cref="UploadOperation.Delete"/> with 403.</summary>
    public sealed class NoDeleteEvents : ResumableUploadEvents
    {
        public const string Detail = "Deleting uploads is not allowed here.";

        public override ValueTask OnAuthorizingAsync(UploadAuthorizingContext context)
        {
            if (context.Operation == UploadOperation.Delete)
            {
                context.Reject(StatusCodes.Status403Forbidden, Detail);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Issues identities without a <see cref="ClaimTypes.NameIdentifier"/>: only a <c>sub</c> claim
    /// (<c>X-Test-Sub</c>), only a name (<c>X-Test-Name</c>, read through <c>Identity.Name</c>), or both.
    /// </summary>
    public sealed class ClaimShapeAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "ClaimShape";
        public const string SubHeader = "X-Test-Sub";
        public const string NameHeader = "X-Test-Name";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var claims = new List<Claim>();
            if (Request.Headers.TryGetValue(SubHeader, out var sub) && !string.IsNullOrEmpty(sub))
            {
                claims.Add(new Claim("sub", sub!));
            }

            if (Request.Headers.TryGetValue(NameHeader, out var name) && !string.IsNullOrEmpty(name))
            {
                claims.Add(new Claim(ClaimTypes.Name, name!));
            }

            if (claims.Count == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity(claims, SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
