using System.Net;
using System.Security.Cryptography;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>RFC 9530 <c>Repr-Digest</c> sent at creation: the whole upload is checked when it completes.</summary>
public sealed class ReprDigestTests
{
    [Theory]
    [InlineData("sha-256")]
    [InlineData("sha-512")]
    public async Task ReprDigest_MatchingTheWholeUpload_CompletesIt(string algorithm)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(30_000);
        using var create = IetfClient.CreateRequest(6, file.AsMemory(0, 10_000), complete: false, uploadLength: file.Length);
        create.Headers.TryAddWithoutValidation("Repr-Digest", $"{algorithm}=:{Digest(algorithm, file)}:");
        using var created = await host.Client.SendAsync(create);
        var url = created.Headers.Location!.OriginalString;

        using var last = IetfClient.PatchRequest(6, url, 10_000, file.AsMemory(10_000), complete: true);
        using var response = await host.Client.SendAsync(last);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Headers.GetValues("Upload-Complete").Should().Equal("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task ReprDigest_NotMatchingTheWholeUpload_Returns400AndTheUploadIsNotCompleted()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(30_000);
        var other = Protocol.RandomBytes(30_000, seed: 7);
        using var create = IetfClient.CreateRequest(8, file.AsMemory(0, 10_000), complete: false, uploadLength: file.Length);
        create.Headers.TryAddWithoutValidation("Repr-Digest", $"sha-256=:{Digest("sha-256", other)}:");
        using var created = await host.Client.SendAsync(create);
        var url = created.Headers.Location!.OriginalString;

        using var last = IetfClient.PatchRequest(8, url, 10_000, file.AsMemory(10_000), complete: true);
        using var response = await host.Client.SendAsync(last);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Repr-Digest");
        using var head = await host.Client.HeadAsync(8, url);
        head.Headers.GetValues("Upload-Complete").Single().Should().Be("?0", "an upload whose bytes do not match its declared digest is never processed");
        (await host.Client.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    private static string Digest(string algorithm, byte[] data)
        => Convert.ToBase64String(algorithm == "sha-512" ? SHA512.HashData(data) : SHA256.HashData(data));
}
