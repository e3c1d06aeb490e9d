using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The checksum and checksum-trailer extensions: a chunk is verified once it has arrived, and discarded when it does not match.</summary>
public sealed class ChecksumTests
{
    [Theory]
    [InlineData("sha1")]
    [InlineData("md5")]
    [InlineData("sha256")]
    [InlineData("sha512")]
    public async Task Patch_MatchingUploadChecksum_Returns204(string algorithm)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(300_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        using var first = await host.Client.PatchAsync(url, 0, file.AsMemory(0, 100_000), checksum: TusClient.Checksum(algorithm, file.AsSpan(0, 100_000)));
        using var second = await host.Client.PatchAsync(url, 100_000, file.AsMemory(100_000), checksum: TusClient.Checksum(algorithm, file.AsSpan(100_000)));

        first.StatusCode.Should().Be(HttpStatusCode.NoContent);
        first.Header("Upload-Offset").Should().Be("100000");
        second.StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData("sha1")]
    [InlineData("md5")]
    [InlineData("sha256")]
    [InlineData("sha512")]
    public async Task Patch_MismatchingUploadChecksum_Returns460AndDiscardsTheChunk(string algorithm)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(200_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 50_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var corrupted = file.AsSpan(50_000).ToArray();
        corrupted[^1] ^= 0x01;

        using var refused = await host.Client.PatchAsync(url, 50_000, corrupted, checksum: TusClient.Checksum(algorithm, file.AsSpan(50_000)));

        ((int)refused.StatusCode).Should().Be(460);
        refused.Header("Upload-Offset").Should().Be("50000");
        (await host.Client.GetOffsetAsync(url)).Should().Be(50_000, "the chunk was discarded and the offset not updated");
        (await host.Client.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.NotFound, "the refused chunk did not complete the upload");
        using var retry = await host.Client.PatchAsync(url, 50_000, file.AsMemory(50_000), checksum: TusClient.Checksum(algorithm, file.AsSpan(50_000)));
        retry.StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData("crc32 AAAAAA==")]
    [InlineData("SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")]
    [InlineData("sha1")]
    [InlineData("sha1 not*base64")]
    public async Task Patch_UnsupportedAlgorithmOrMalformedUploadChecksum_Returns400AndDiscardsTheChunk(string checksum)
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 11);

        using var response = await host.Client.PatchAsync(url, 0, "hello world"u8.ToArray(), checksum: checksum);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
    }

    [Fact]
    public async Task Patch_SpecExampleSha1_Returns204WithOffset11()
    {
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 11);

        using var response = await host.Client.PatchAsync(url, 0, "hello world"u8.ToArray(), checksum: "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=");

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        response.Header("Upload-Offset").Should().Be("11");
    }

    // checksum-trailer

    [Theory]
    [InlineData("sha1")]
    [InlineData("sha256")]
    public async Task Patch_ChunkedWithMatchingUploadChecksumTrailer_Returns204(string algorithm)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(20_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        var (status, headers) = await TusClient.PatchWithChecksumTrailerAsync(host, url, 0, file, TusClient.Checksum(algorithm, file));

        status.Should().Be(204);
        headers["Upload-Offset"].Should().Be("20000");
        headers["Tus-Resumable"].Should().Be("1.0.0");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Patch_ChunkedWithMismatchingUploadChecksumTrailer_Returns460AndDiscardsTheChunk()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(20_000);
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        var (status, _) = await TusClient.PatchWithChecksumTrailerAsync(host, url, 0, file, TusClient.Checksum("sha1", file.AsSpan(1)));

        status.Should().Be(460);
        (await host.Client.GetOffsetAsync(url)).Should().Be(0);
        var (retry, _) = await TusClient.PatchWithChecksumTrailerAsync(host, url, 0, file, TusClient.Checksum("sha1", file));
        retry.Should().Be(204);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }
}
