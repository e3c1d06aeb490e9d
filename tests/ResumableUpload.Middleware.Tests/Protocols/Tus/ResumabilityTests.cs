using System.Globalization;
using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>What tus exists for: an interrupted PATCH keeps what arrived, and the upload resumes from there.</summary>
public sealed class ResumabilityTests
{
    [Fact]
    public async Task Patch_CutMidBody_KeepsTheBytesThatReachedTheStoreAndHeadShowsThemAndTheUploadResumes()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.ProgressPublishInterval = 4096);
        var file = Protocol.RandomBytes(400_000);
        const int Sent = 150_000;
        var url = await host.Client.CreateUploadAsync(length: file.Length);

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(
                stream,
                "PATCH",
                url,
                ("Tus-Resumable", TusClient.Version),
                ("Content-Type", TusClient.OffsetOctetStream),
                ("Upload-Offset", "0"),
                ("Content-Length", file.Length.ToString(CultureInfo.InvariantCulture)));
            await stream.WriteAsync(file.AsMemory(0, Sent));
            await stream.FlushAsync();
            (await Protocol.EventuallyAsync(async () => await host.Client.GetOffsetAsync(url) >= 100_000)).Should().BeTrue("HEAD reports bytes while the PATCH runs");
        }

        (await Protocol.EventuallyAsync(() => Task.FromResult(host.Logs.LibraryEntries.Any(e => e.EventId.Name == "ClientDisconnected")))).Should().BeTrue();
        var offset = await host.Client.GetOffsetAsync(url);
        offset.Should().BeInRange(100_000, Sent, "the bytes that reached the store are kept, and nothing that was not sent is counted");

        using var resumed = await host.Client.PatchAsync(url, offset, file.AsMemory((int)offset));

        resumed.StatusCode.Should().Be(HttpStatusCode.NoContent);
        resumed.Header("Upload-Offset").Should().Be("400000");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task TusAndXFileId_OnOneHostAtTheSameTime_BothComplete()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.ProgressPublishInterval = 4096);
        var classic = Protocol.RandomBytes(300_000, seed: 1);
        var tus = Protocol.RandomBytes(250_000, seed: 2);
        var url = await host.Client.CreateUploadAsync(length: tus.Length);

        // The X-File-Id upload is held open mid-body while the tus upload runs from start to end.
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "classic"), ("X-Start-Byte", "0"), ("X-File-Size", "300000"), ("Content-Length", "300000"));
        await stream.WriteAsync(classic.AsMemory(0, 100_000));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("classic") > 0)).Should().BeTrue();

        using var second = host.CreateClient();
        var tusTask = Task.Run(async () =>
        {
            using var first = await second.PatchAsync(url, 0, tus.AsMemory(0, 125_000));
            first.StatusCode.Should().Be(HttpStatusCode.NoContent);
            using var last = await second.PatchAsync(url, 125_000, tus.AsMemory(125_000));
            return last.StatusCode;
        });
        (await tusTask).Should().Be(HttpStatusCode.NoContent);

        await stream.WriteAsync(classic.AsMemory(100_000));
        await stream.FlushAsync();
        (await RawHttp.ReadStatusCodeAsync(stream)).Should().Be(200);

        (await host.Client.DownloadAsync("classic")).Should().Equal(classic);
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(tus);
    }
}
