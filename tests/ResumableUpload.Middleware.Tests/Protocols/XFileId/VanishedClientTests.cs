using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.XFileId;

/// <summary>A client that stops sending without closing its connection must not hold its upload for ever.</summary>
public sealed class VanishedClientTests
{
    [Fact]
    public async Task StalledWriter_IsEndedByTheMinimumDataRate_AndTheUploadCanBeResumed()
    {
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.MinimumBodyDataRate = 1000;
            o.MinimumBodyDataRateGracePeriod = TimeSpan.FromSeconds(2);
            o.StalledWriterTimeout = TimeSpan.FromHours(1); // only the data-rate check can free it here
            o.LockWaitTimeout = TimeSpan.FromMilliseconds(100);
        });
        var file = Protocol.RandomBytes(50_000);
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "silent"), ("X-Start-Byte", "0"), ("X-File-Size", "50000"), ("Content-Length", "50000"));
        await stream.WriteAsync(file.AsMemory(0, 2_000));
        await stream.FlushAsync();

        // The connection stays open and silent. The server ends the request once the body is slower than the
        // minimum rate, publishes the 2000 bytes, and releases the upload.
        long count = -1;
        (await Protocol.EventuallyAsync(async () =>
        {
            count = await host.Client.GetStatusAsync("silent");
            if (count == 0)
            {
                return false;
            }

            using var resumed = await host.Client.UploadAsync("silent", file.AsMemory((int)count), startByte: count, fileSize: file.Length);
            return resumed.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(60))).Should().BeTrue("a silent writer is ended by the data-rate check (count was {0})", count);

        count.Should().Be(2_000);
        (await host.Client.DownloadAsync("silent")).Should().Equal(file);
    }

    [Fact]
    public async Task StalledWriter_IsTakenOverByANewRequestForTheSameUpload()
    {
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.MinimumBodyDataRate = 0; // no data-rate check: only the takeover can free the upload
            o.StalledWriterTimeout = TimeSpan.FromSeconds(1);
            o.LockWaitTimeout = TimeSpan.FromSeconds(2);
            o.ProgressPublishInterval = 4096; // so the test can see that the stalled writer has started
        });
        var file = Protocol.RandomBytes(100_000);
        (await host.Client.UploadAsync("stalled", file.AsMemory(0, 10_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "stalled"), ("X-Start-Byte", "10000"), ("X-File-Size", "100000"), ("Content-Length", "90000"));
        await stream.WriteAsync(file.AsMemory(10_000, 5_000));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("stalled") > 10_000))
            .Should().BeTrue("the stalled writer holds the upload (it published bytes of its own) before anyone takes over");

        // A new request once the writer has been silent for StalledWriterTimeout: it ends the stalled writer, whose
        // 5000 bytes are published, and is answered with the new count instead of 423.
        HttpResponseMessage? answer = null;
        (await Protocol.EventuallyAsync(async () =>
        {
            answer?.Dispose();
            answer = await host.Client.UploadAsync("stalled", file.AsMemory(10_000), startByte: 10_000, fileSize: file.Length);
            return answer.StatusCode != HttpStatusCode.Locked;
        }, TimeSpan.FromSeconds(30))).Should().BeTrue();

        answer!.StatusCode.Should().Be(HttpStatusCode.Conflict, "the stalled writer's bytes were kept, so the count moved on");
        (await answer.Content.ReadAsStringAsync()).Should().Be("15000");
        answer.Dispose();
        (await RawHttp.ReadToEndOrClosedAsync(stream)).Should().BeTrue("the superseded request's connection is closed");
        (await host.Client.UploadAsync("stalled", file.AsMemory(15_000), startByte: 15_000, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("stalled")).Should().Equal(file);
        host.Logs.LibraryEntries.Should().Contain(e => e.Message.Contains("newer request", StringComparison.Ordinal) || e.EventId.Name == "RequestRefused");
    }
}
