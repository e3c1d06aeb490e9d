using System.Net;
using Microsoft.AspNetCore.Builder;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>Authorization and scoping of tus uploads ("the implementation of authentication and authorization is left for the Server").</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task OtherUser_HeadPatchDeleteOnTheUploadUrl_Return404AndLeaveTheUploadAlone()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        var file = Protocol.RandomBytes(1_000);
        var url = await alice.CreateUploadAsync(length: file.Length, metadata: "filename " + TusClient.Base64("secret.pdf"));
        (await alice.PatchAsync(url, 0, file.AsMemory(0, 400))).StatusCode.Should().Be(HttpStatusCode.NoContent);

        using var head = await bob.HeadAsync(url);
        using var patch = await bob.PatchAsync(url, 400, Protocol.RandomBytes(600, seed: 5));
        using var delete = await bob.DeleteUploadAsync(url);
        using var get = await bob.GetAsync(url);

        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
        head.Header("Upload-Offset").Should().BeNull();
        head.Header("Upload-Metadata").Should().BeNull();
        patch.StatusCode.Should().Be(HttpStatusCode.NotFound);
        delete.StatusCode.Should().Be(HttpStatusCode.NotFound);
        get.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await alice.GetOffsetAsync(url)).Should().Be(400);
        (await alice.PatchAsync(url, 400, file.AsMemory(400))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await alice.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Location_UploadIds_Are32LowercaseHexDigitsAndNeverRepeat()
    {
        await using var host = await UploadTestHost.StartAsync();
        var ids = new List<string>();

        for (var i = 0; i < 64; i++)
        {
            var url = await host.Client.CreateUploadAsync(length: 1);
            var match = TusClient.UploadUrl().Match(url);
            match.Success.Should().BeTrue();
            ids.Add(match.Groups["id"].Value);
        }

        ids.Should().OnlyHaveUniqueItems();
        ids.Should().AllSatisfy(id => id.Should().MatchRegex("^[0-9a-f]{32}$", "128 bits as lowercase hex"));
        // 128 random bits: every hex digit shows up across 64 ids (a counter or a timestamp would not spread like this).
        string.Concat(ids).Distinct().Should().HaveCount(16);
    }

    [Fact]
    public async Task MapResumableUploads_RequireAuthorization_AnonymousPostIs401AndUserPostIs201()
    {
        await using var host = await UploadTestHost.StartAsync(
            testAuthentication: true,
            configurePipeline: app =>
            {
                app.UseAuthorization();
                app.MapResumableUploads("/files").RequireAuthorization();
            });
        using var alice = host.CreateClient("alice");

        using var anonymous = await host.Client.CreateAsync("files", length: 10);
        using var user = await alice.CreateAsync("files", length: 10);
        using var anonymousHead = await host.Client.HeadAsync(user.Headers.Location!.OriginalString);

        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        anonymous.Headers.Location.Should().BeNull();
        user.StatusCode.Should().Be(HttpStatusCode.Created);
        anonymousHead.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Head_UploadIdOfTheXFileIdProtocol_IsNotReachableThroughTus()
    {
        // tus uploads live under their own file-id prefix, so an X-File-Id upload named like a tus id is another upload.
        await using var host = await UploadTestHost.StartAsync();
        var id = new string('e', 32);
        (await host.Client.UploadAsync(id, Protocol.RandomBytes(10))).EnsureSuccessStatusCode();

        using var head = await host.Client.HeadAsync("/" + id);

        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
