using System.Net;
using System.Text;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.XFileId;

public sealed class UploadTests
{
    [Fact]
    public async Task Upload_WholeFileWithoutFileSize_CompletesWhenTheBodyArrivesWhole()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(300_000);

        using var response = await host.Client.UploadAsync("whole", file);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("300000");
        response.Headers.GetValues("Upload-Complete").Should().Equal("?1");
        (await host.Client.DownloadAsync("whole")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_ChunkedBodyWithoutFileSize_CompletesWhenTheBodyEnds()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(200_000);

        using var response = await host.Client.UploadAsync("chunked", file, chunked: true);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("chunked")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_InPartsWithFileSize_CompletesOnlyWhenTheCountReachesTheSize()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(90_000);

        using var first = await host.Client.UploadAsync("parts", file.AsMemory(0, 30_000), startByte: 0, fileSize: file.Length);
        first.Headers.GetValues("Upload-Complete").Should().Equal("?0");
        using var early = new HttpRequestMessage(HttpMethod.Get, "download");
        early.Headers.Add("X-File-Id", "parts");
        (await host.Client.SendAsync(early)).StatusCode.Should().Be(HttpStatusCode.NotFound, "an unfinished upload is not downloadable");

        using var second = await host.Client.UploadAsync("parts", file.AsMemory(30_000, 30_000), startByte: 30_000, fileSize: file.Length);
        using var third = await host.Client.UploadAsync("parts", file.AsMemory(60_000), startByte: 60_000, fileSize: file.Length);

        second.StatusCode.Should().Be(HttpStatusCode.OK);
        third.StatusCode.Should().Be(HttpStatusCode.OK);
        third.Headers.GetValues("Upload-Complete").Should().Equal("?1");
        (await host.Client.DownloadAsync("parts")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_WithoutStartByte_MeansStartByteZero()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(1_000);

        using var response = await host.Client.UploadAsync("nostart", file, startByte: null);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("nostart")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_StartByteNotEqualToStoredCount_Returns409WithCountAndLeavesBytesUnchanged()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(10_000);
        (await host.Client.UploadAsync("mismatch", file.AsMemory(0, 4_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();

        using var ahead = await host.Client.UploadAsync("mismatch", file.AsMemory(5_000), startByte: 5_000, fileSize: file.Length);
        using var behind = await host.Client.UploadAsync("mismatch", file.AsMemory(3_000), startByte: 3_000, fileSize: file.Length);

        foreach (var response in new[] { ahead, behind })
        {
            response.StatusCode.Should().Be(HttpStatusCode.Conflict);
            (await response.Content.ReadAsStringAsync()).Should().Be("4000");
            response.Headers.GetValues("Upload-Offset").Should().Equal("4000");
        }

        (await host.Client.GetStatusAsync("mismatch")).Should().Be(4_000);
        (await host.Client.UploadAsync("mismatch", file.AsMemory(4_000), startByte: 4_000, fileSize: file.Length)).EnsureSuccessStatusCode();
        (await host.Client.DownloadAsync("mismatch")).Should().Equal(file, "the refused requests changed nothing");
    }

    [Fact]
    public async Task Upload_ConflictWithProblemJsonAccepted_ReturnsProblemDetailsWithOffset()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = Protocol.UploadRequest("conflict-json", Protocol.RandomBytes(10), startByte: 7);
        request.Headers.Accept.ParseAdd("application/problem+json");

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain("\"offset\":0").And.Contain("offset-mismatch");
    }

    [Fact]
    public async Task Upload_NonZeroStartByteForUnknownId_Returns409WithZero()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("unknown", Protocol.RandomBytes(10), startByte: 10);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Be("0");
        (await host.Client.GetStatusAsync("unknown")).Should().Be(0);
    }

    [Fact]
    public async Task Upload_StartByteZeroOnExistingUpload_StartsAfresh()
    {
        await using var host = await UploadTestHost.StartAsync();
        var old = Protocol.RandomBytes(8_000, seed: 1);
        var fresh = Protocol.RandomBytes(3_000, seed: 2);
        (await host.Client.UploadAsync("again", old.AsMemory(0, 5_000), startByte: 0, fileSize: old.Length)).EnsureSuccessStatusCode();

        using var response = await host.Client.UploadAsync("again", fresh, startByte: 0, fileSize: fresh.Length);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("again")).Should().Equal(fresh);
    }

    [Fact]
    public async Task Upload_StartByteZeroOnCompletedUpload_StartsAfresh()
    {
        await using var host = await UploadTestHost.StartAsync();
        (await host.Client.UploadAsync("redo", Protocol.RandomBytes(4_000, seed: 1))).EnsureSuccessStatusCode();
        var fresh = Protocol.RandomBytes(1_000, seed: 2);

        (await host.Client.UploadAsync("redo", fresh)).EnsureSuccessStatusCode();

        (await host.Client.DownloadAsync("redo")).Should().Equal(fresh);
        (await host.Client.GetStatusAsync("redo")).Should().Be(1_000);
    }

    [Fact]
    public async Task Upload_StartByteZeroWithTheSameSizeOnACompletedUpload_Returns409WithTheSize_AndKeepsTheFile()
    {
        // A duplicate of the finished upload (found by the cluster soak: a request delivered late by an instance that
        // had been paused restarted a finished upload, and a download in between answered 404).
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(4_000, seed: 3);
        (await host.Client.UploadAsync("finished", file, startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();

        using var again = await host.Client.UploadAsync("finished", Protocol.RandomBytes(4_000, seed: 4), startByte: 0, fileSize: file.Length);

        again.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await again.Content.ReadAsStringAsync()).Should().Be("4000", "the count tells the client the upload is done");
        (await host.Client.DownloadAsync("finished")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_EmptyBodyAtTheEndOfACompletedUpload_Returns200WithTheSize()
    {
        // What the classic page does when it retries a finished file: status says N, it posts the empty rest.
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(2_000);
        (await host.Client.UploadAsync("finished", file)).EnsureSuccessStatusCode();

        using var response = await host.Client.UploadAsync("finished", ReadOnlyMemory<byte>.Empty, startByte: 2_000);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("2000");
        (await host.Client.DownloadAsync("finished")).Should().Equal(file);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Upload_BytesPastTheEndOfACompletedUpload_Returns409AndKeepsTheFile(bool chunked)
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(2_000);
        (await host.Client.UploadAsync("complete", file)).EnsureSuccessStatusCode();

        using var response = await host.Client.UploadAsync("complete", Protocol.RandomBytes(10), startByte: 2_000, chunked: chunked);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Contain("completed-upload");
        (await host.Client.DownloadAsync("complete")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_FileSizeDifferentFromTheStoredLength_Returns409()
    {
        await using var host = await UploadTestHost.StartAsync();
        (await host.Client.UploadAsync("len", Protocol.RandomBytes(100), startByte: 0, fileSize: 1_000)).EnsureSuccessStatusCode();

        using var response = await host.Client.UploadAsync("len", Protocol.RandomBytes(100), startByte: 100, fileSize: 2_000);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Contain("length-mismatch");
        (await host.Client.GetStatusAsync("len")).Should().Be(100);
    }

    [Fact]
    public async Task Upload_BodyLongerThanDeclaredWithContentLength_Returns413AndStoresNothing()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("long", Protocol.RandomBytes(1_500), startByte: 0, fileSize: 1_000);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await host.Client.GetStatusAsync("long")).Should().Be(0);
    }

    [Fact]
    public async Task Upload_ChunkedBodyLongerThanDeclared_Returns413AndStoresNothingBeyondTheLimit()
    {
        await using var host = await UploadTestHost.StartAsync();
        var body = Protocol.RandomBytes(300_000);

        using var response = await host.Client.UploadAsync("long-chunked", body, startByte: 0, fileSize: 100_000, chunked: true);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        var count = await host.Client.GetStatusAsync("long-chunked");
        count.Should().BeLessThanOrEqualTo(100_000, "nothing beyond the declared size is stored");
        var dataFiles = Directory.GetFiles(Path.Combine(host.StorageRoot, "data"), "*.bin", SearchOption.AllDirectories);
        dataFiles.Should().ContainSingle().Which.Should().Match(f => new FileInfo(f).Length <= 100_000);
    }

    [Fact]
    public async Task Upload_RestartWithABodyThatCannotFit_IsRefusedBeforeTheFinishedUploadIsTouched()
    {
        // Regression: the restart used to reset the upload to 0 bytes before the body size was checked.
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 10_000);
        var file = Protocol.RandomBytes(5_000);
        (await host.Client.UploadAsync("keep", file)).EnsureSuccessStatusCode();

        using var tooBig = await host.Client.UploadAsync("keep", Protocol.RandomBytes(10_001), startByte: 0);
        using var pastDeclared = await host.Client.UploadAsync("keep", Protocol.RandomBytes(200), startByte: 0, fileSize: 100);

        tooBig.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        pastDeclared.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await host.Client.GetStatusAsync("keep")).Should().Be(5_000);
        (await host.Client.DownloadAsync("keep")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_ChunkedBodyPastTheMaximum_KeepsExactlyTheBytesBeforeTheLimit()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 100_000);
        var body = Protocol.RandomBytes(250_000);

        using var response = await host.Client.UploadAsync("cut-at-limit", body, chunked: true);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        response.Headers.ConnectionClose.Should().BeTrue("the rest of the body is not read");
        response.Headers.GetValues("Upload-Offset").Should().Equal("100000");
        (await host.Client.GetStatusAsync("cut-at-limit")).Should().Be(100_000);
    }

    [Fact]
    public async Task Upload_PastMaxUploadSize_Returns413()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 50_000);

        using var declared = await host.Client.UploadAsync("big", Protocol.RandomBytes(10), startByte: 0, fileSize: 50_001);
        using var undeclared = await host.Client.UploadAsync("big2", Protocol.RandomBytes(50_001));
        using var chunked = await host.Client.UploadAsync("big3", Protocol.RandomBytes(200_000), chunked: true);
        using var exact = await host.Client.UploadAsync("exact", Protocol.RandomBytes(50_000));

        declared.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        undeclared.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        chunked.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        exact.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync("big3")).Should().BeLessThanOrEqualTo(50_000);
    }

    [Fact]
    public async Task Upload_LargerThanKestrelsDefaultBodyLimit_SucceedsBecauseTheLimitIsSetPerRequest()
    {
        // Kestrel refuses bodies over 30,000,000 bytes unless the limit is raised; the middleware raises it for its
        // own requests only, to what the upload may still take.
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(32 * 1024 * 1024);

        using var response = await host.Client.UploadAsync("huge", file);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        Protocol.Sha256(await host.Client.DownloadAsync("huge")).Should().Be(Protocol.Sha256(file));
    }

    [Theory]
    [InlineData("X-Start-Byte", "-1")]
    [InlineData("X-Start-Byte", "1e3")]
    [InlineData("X-Start-Byte", "0x10")]
    [InlineData("X-Start-Byte", "+5")]
    [InlineData("X-Start-Byte", "1.0")]
    [InlineData("X-Start-Byte", "12345678901234567890")]
    [InlineData("X-Start-Byte", "9223372036854775808")]
    [InlineData("X-Start-Byte", "١٢")]
    [InlineData("X-Start-Byte", "")]
    [InlineData("X-Start-Byte", "5,5")]
    [InlineData("X-File-Size", "-1")]
    [InlineData("X-File-Size", "1e3")]
    [InlineData("X-File-Size", "0x10")]
    [InlineData("X-File-Size", "12345678901234567890")]
    [InlineData("X-File-Size", "ten")]
    public async Task Upload_MalformedNumber_Returns400ProblemNamingTheHeader(string header, string value)
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ByteArrayContent(Protocol.RandomBytes(10)) };
        request.Headers.TryAddWithoutValidation("X-File-Id", "numbers");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain($"\"header\":\"{header}\"");
        (await host.Client.GetStatusAsync("numbers")).Should().Be(0, "nothing is stored for a refused request");
    }

    [Fact]
    public async Task Upload_StartBytePastFileSize_Returns400()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("past", Protocol.RandomBytes(10), startByte: 20, fileSize: 10);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("X-Start-Byte");
    }

    [Fact]
    public async Task Upload_NineteenDigitNumberThatFits_IsAccepted()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("max", Protocol.RandomBytes(10), startByte: 0, fileSize: long.MaxValue);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge, "it parses, and is then past the maximum upload size");
    }

    [Fact]
    public async Task Upload_EmptyFileWithFileSizeZero_CompletesAtZero()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("empty", ReadOnlyMemory<byte>.Empty, startByte: 0, fileSize: 0);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("Upload-Complete").Should().Equal("?1");
        (await host.Client.DownloadAsync("empty")).Should().BeEmpty();
    }

    [Fact]
    public async Task Upload_Latin1FileIdAsBrowsersSendIt_IsTheSameUploadAsTheUtf8Id()
    {
        // Browsers send "café" as the single byte 0xE9; other clients send UTF-8. Both name one upload.
        await using var host = await UploadTestHost.StartAsync();
        (await host.Client.UploadAsync("café-1", Protocol.RandomBytes(100), startByte: 0, fileSize: 200)).EnsureSuccessStatusCode();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var head = Encoding.Latin1.GetBytes("GET /status HTTP/1.1\r\nHost: x\r\nX-File-Id: café-1\r\n\r\n");

        await stream.WriteAsync(head);
        var buffer = new byte[1024];
        var read = await stream.ReadAsync(buffer);
        var text = Encoding.ASCII.GetString(buffer, 0, read);

        text.Should().StartWith("HTTP/1.1 200").And.EndWith("\r\n\r\n100");
    }
}
