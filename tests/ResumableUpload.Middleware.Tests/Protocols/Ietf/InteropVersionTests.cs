using System.Net;
using Microsoft.AspNetCore.Builder;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>
/// <c>Upload-Draft-Interop-Version</c>: a client that sends none, or one this server does not speak, gets the latest
/// behaviour (and never a 104, never a 500).
/// </summary>
public sealed class InteropVersionTests
{
    public static TheoryData<string?> MissingOrUnknown => new() { null, "2", "9", "abc", "-1", "7.0", "" };

    [Theory]
    [MemberData(nameof(MissingOrUnknown))]
    public async Task MissingOrUnknownVersion_FullSession_GetsTheLatestBehaviourAndNever500(string? version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(60);

        // Creation of an unfinished upload: 201, Location, Upload-Limit with max-age (v8).
        using var create = IetfClient.CreateRequest(8, file.AsMemory(0, 20), complete: false, uploadLength: 60, versionHeader: version ?? "");
        if (version is null)
        {
            create.Headers.Remove(IetfClient.InteropVersion);
        }

        using var created = await host.Client.SendAsync(create);
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var url = created.Headers.Location!.OriginalString;
        IetfClient.ParseLimit(created.Header("Upload-Limit")).Should().ContainKey("max-age");
        created.Header(IetfClient.InteropVersion).Should().BeNull("the server does not claim a version the client did not name");

        // HEAD: 204 with Upload-Complete and the v8 Upload-Limit.
        using var head = await host.Client.HeadAsync(version, url);
        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("20");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Limit").Should().NotBeNull();

        // PATCH: v8 rules (application/partial-upload; 204 then 200 with Upload-Complete: ?1).
        using var middle = IetfClient.PatchRequest(8, url, 20, file.AsMemory(20, 20), complete: false);
        Replace(middle, version);
        using var middleResponse = await host.Client.SendAsync(middle);
        middleResponse.StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var last = IetfClient.PatchRequest(8, url, 40, file.AsMemory(40), complete: true);
        Replace(last, version);
        using var lastResponse = await host.Client.SendAsync(last);
        lastResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        lastResponse.Header("Upload-Complete").Should().Be("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // DELETE: 204.
        using var delete = await host.Client.DeleteAsync(version, url);
        delete.StatusCode.Should().Be(HttpStatusCode.NoContent);
    }

    [Theory]
    [MemberData(nameof(MissingOrUnknown))]
    public async Task MissingOrUnknownVersion_MalformedRequests_AreRefusedWith4xxNever500(string? version)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateIncompleteAsync(8, Protocol.RandomBytes(5));
        var responses = new List<HttpResponseMessage>();
        async Task Send(Func<HttpRequestMessage> make)
        {
            using var request = make();
            Replace(request, version);
            responses.Add(await host.Client.SendAsync(request));
        }

        await Send(() => IetfClient.CreateRequest(8, Protocol.RandomBytes(5), complete: true, uploadLength: 99));
        await Send(() =>
        {
            var r = IetfClient.CreateRequest(8, Protocol.RandomBytes(5), complete: false);
            r.Headers.Remove("Upload-Complete");
            r.Headers.TryAddWithoutValidation("Upload-Complete", "yes");
            return r;
        });
        await Send(() => IetfClient.PatchRequest(8, url, 3, Protocol.RandomBytes(5), complete: false));
        await Send(() => IetfClient.PatchRequest(8, url, 5, Protocol.RandomBytes(5), complete: false, contentType: null));
        await Send(() =>
        {
            var r = IetfClient.PatchRequest(8, url, 5, Protocol.RandomBytes(5), complete: false);
            r.Headers.Remove("Upload-Offset");
            r.Headers.TryAddWithoutValidation("Upload-Offset", "-5");
            return r;
        });
        await Send(() =>
        {
            var r = IetfClient.Request(HttpMethod.Head, url, null);
            r.Headers.TryAddWithoutValidation("Upload-Offset", "5");
            return r;
        });

        foreach (var response in responses)
        {
            ((int)response.StatusCode).Should().BeInRange(400, 499, "{0} {1}", response.RequestMessage!.Method, response.RequestMessage.RequestUri);
            response.Dispose();
        }

        (await host.Client.GetOffsetAsync(8, url)).Should().Be(5);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task KnownVersion_FinalResponsesEchoTheVersion(int version)
    {
        // Not required on final responses (only on 104); tusd does it too, and clients may rely on it for detection.
        await using var host = await UploadTestHost.StartAsync();

        using var created = await host.Client.CreateAsync(version, Protocol.RandomBytes(5), complete: false);

        created.Header(IetfClient.InteropVersion).Should().Be(version.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Post_WithoutAnyIetfOrTusHeader_GoesToTheNextMiddleware()
    {
        // Under UseResumableUploads, a collection POST is claimed only when it carries the draft's headers.
        await using var host = await UploadTestHost.StartAsync(configurePipeline: app =>
        {
            app.UseResumableUploads();
            app.Run(context => Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, "next"));
        });

        using var response = await host.Client.PostAsync("/", new ByteArrayContent(Protocol.RandomBytes(5)));

        (await response.Content.ReadAsStringAsync()).Should().Be("next");
    }

    private static void Replace(HttpRequestMessage request, string? version)
    {
        request.Headers.Remove(IetfClient.InteropVersion);
        if (version is not null)
        {
            request.Headers.TryAddWithoutValidation(IetfClient.InteropVersion, version);
        }
    }
}
