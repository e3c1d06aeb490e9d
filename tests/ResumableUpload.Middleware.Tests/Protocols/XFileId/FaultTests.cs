using System.Globalization;
using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.XFileId;

/// <summary>Dropped connections, concurrent writers and restarts: what a resumable upload exists for.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task Upload_ClientDropsTheConnectionMidBody_KeepsAndReportsTheBytesThatReachedTheStore()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.ProgressPublishInterval = 4096);
        var file = Protocol.RandomBytes(400_000);
        const int sent = 150_000;
        long acknowledged;

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "dropped"), ("X-Start-Byte", "0"), ("Content-Length", file.Length.ToString(CultureInfo.InvariantCulture)));
            await stream.WriteAsync(file.AsMemory(0, sent));
            await stream.FlushAsync();
            (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("dropped") >= 100_000)).Should().BeTrue();
            acknowledged = await host.Client.GetStatusAsync("dropped");
        }

        // After the drop the final count is published (once the server has noticed the drop).
        long final = 0;
        (await Protocol.EventuallyAsync(async () =>
        {
            final = await host.Client.GetStatusAsync("dropped");
            return host.Logs.LibraryEntries.Any(e => e.EventId.Name == "ClientDisconnected");
        })).Should().BeTrue();
        final = await host.Client.GetStatusAsync("dropped");
        final.Should().BeInRange(acknowledged, sent, "bytes already counted stay counted, and nothing that was not sent is");

        using var resumed = await host.Client.UploadAsync("dropped", file.AsMemory((int)final), startByte: final);
        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("dropped")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_ClientDropsTheConnection_IsNotCompletedEvenWithoutFileSize()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100_000);

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "cut"), ("Content-Length", "100000"));
            await stream.WriteAsync(file.AsMemory(0, 40_000));
            await stream.FlushAsync();
        }

        (await Protocol.EventuallyAsync(() => Task.FromResult(host.Logs.LibraryEntries.Any(e => e.EventId.Name == "ClientDisconnected")))).Should().BeTrue();
        var count = await host.Client.GetStatusAsync("cut");
        count.Should().BeInRange(0, 40_000);
        using var download = new HttpRequestMessage(HttpMethod.Get, "download");
        download.Headers.Add("X-File-Id", "cut");
        (await host.Client.SendAsync(download)).StatusCode.Should().Be(HttpStatusCode.NotFound, "a cut body does not complete the upload");
        (await host.Client.UploadAsync("cut", file.AsMemory((int)count), startByte: count)).EnsureSuccessStatusCode();
        (await host.Client.DownloadAsync("cut")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_SecondWriterWhileTheFirstHoldsTheUpload_Gets423AndBytesNeverInterleave()
    {
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.LockWaitTimeout = TimeSpan.FromMilliseconds(200);
            o.ProgressPublishInterval = 4096;
        });
        var file = Protocol.RandomBytes(100_000, seed: 1);
        var intruder = Protocol.RandomBytes(60_000, seed: 2);
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "contended"), ("X-Start-Byte", "0"), ("X-File-Size", "100000"), ("Content-Length", "100000"));
        await stream.WriteAsync(file.AsMemory(0, 50_000));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("contended") > 0)).Should().BeTrue();

        using var restart = await host.Client.UploadAsync("contended", intruder, startByte: 0);
        var current = await host.Client.GetStatusAsync("contended");
        using var append = await host.Client.UploadAsync("contended", intruder, startByte: current);

        restart.StatusCode.Should().Be(HttpStatusCode.Locked);
        append.StatusCode.Should().Be(HttpStatusCode.Locked);
        restart.Headers.RetryAfter.Should().NotBeNull();
        await stream.WriteAsync(file.AsMemory(50_000));
        await stream.FlushAsync();
        (await RawHttp.ReadStatusCodeAsync(stream)).Should().Be(200);
        (await host.Client.DownloadAsync("contended")).Should().Equal(file);
    }

    [Fact]
    public async Task Upload_ManyConcurrentWritersOfOneId_LeaveOneWritersBytesWhole()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.LockWaitTimeout = TimeSpan.FromSeconds(30));
        var candidates = Enumerable.Range(1, 8).Select(seed => Protocol.RandomBytes(256 * 1024, seed)).ToArray();

        var responses = await Task.WhenAll(candidates.Select(async body =>
        {
            using var client = host.CreateClient();
            using var response = await client.UploadAsync("race", body, startByte: 0, fileSize: body.Length);
            return response.StatusCode;
        }));

        // 409: a writer that came after one had finished the same-size upload (the same file again) is not a restart.
        responses.Should().AllSatisfy(code => code.Should().BeOneOf(HttpStatusCode.OK, HttpStatusCode.Locked, HttpStatusCode.Conflict));
        var stored = await host.Client.DownloadAsync("race");
        candidates.Select(c => Protocol.Sha256(c)).Should().Contain(Protocol.Sha256(stored), "the stored file is exactly one writer's bytes, never a mix");
    }

    [Fact]
    public async Task Upload_AfterHostRestartOnTheSameDirectory_SeesEveryAcknowledgedByteAndResumes()
    {
        var root = UploadTestHost.CreateTempDirectory();
        try
        {
            var file = Protocol.RandomBytes(500_000);
            await using (var first = await UploadTestHost.StartAsync(storageRoot: root))
            {
                (await first.Client.UploadAsync("survivor", file.AsMemory(0, 123_456), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
                (await first.Client.UploadAsync("done-before", file)).EnsureSuccessStatusCode();
            }

            await using var second = await UploadTestHost.StartAsync(storageRoot: root);

            (await second.Client.GetStatusAsync("survivor")).Should().Be(123_456);
            (await second.Client.GetStatusAsync("done-before")).Should().Be(file.Length);
            (await second.Client.UploadAsync("survivor", file.AsMemory(123_456), startByte: 123_456, fileSize: file.Length)).EnsureSuccessStatusCode();
            (await second.Client.DownloadAsync("survivor")).Should().Equal(file);
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(root);
        }
    }

    [Fact]
    public async Task Upload_UnpublishedBytesLeftInTheDataFile_AreDiscardedOnResume()
    {
        // A process killed after writing but before publishing leaves bytes past the offset; the next append
        // continues from the published offset and overwrites them.
        var root = UploadTestHost.CreateTempDirectory();
        try
        {
            var file = Protocol.RandomBytes(20_000);
            await using (var first = await UploadTestHost.StartAsync(storageRoot: root))
            {
                (await first.Client.UploadAsync("torn", file.AsMemory(0, 8_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
            }

            var dataFile = Directory.GetFiles(Path.Combine(root, "data"), "*.bin", SearchOption.AllDirectories).Single();
            await using (var append = new FileStream(dataFile, FileMode.Append))
            {
                await append.WriteAsync(Protocol.RandomBytes(5_000, seed: 99));
            }

            await using var second = await UploadTestHost.StartAsync(storageRoot: root);
            (await second.Client.GetStatusAsync("torn")).Should().Be(8_000, "only published bytes count");
            (await second.Client.UploadAsync("torn", file.AsMemory(8_000), startByte: 8_000, fileSize: file.Length)).EnsureSuccessStatusCode();
            (await second.Client.DownloadAsync("torn")).Should().Equal(file);
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(root);
        }
    }

    [Fact]
    public async Task Upload_WhenTheDataFileLostPublishedBytes_LowersTheOffsetAndAsksTheClientToResumeThere()
    {
        // What an operating-system crash with Durability = Flush can leave: a state file that counts more bytes
        // than the data file holds. The next append repairs the offset instead of failing for ever.
        var root = UploadTestHost.CreateTempDirectory();
        try
        {
            var file = Protocol.RandomBytes(20_000);
            await using (var first = await UploadTestHost.StartAsync(storageRoot: root))
            {
                (await first.Client.UploadAsync("lost", file.AsMemory(0, 10_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
            }

            var dataFile = Directory.GetFiles(Path.Combine(root, "data"), "*.bin", SearchOption.AllDirectories).Single();
            await using (var truncate = new FileStream(dataFile, FileMode.Open))
            {
                truncate.SetLength(6_000);
            }

            await using var second = await UploadTestHost.StartAsync(storageRoot: root);
            using var refused = await second.Client.UploadAsync("lost", file.AsMemory(10_000), startByte: 10_000, fileSize: file.Length);

            refused.StatusCode.Should().Be(HttpStatusCode.Conflict);
            (await refused.Content.ReadAsStringAsync()).Should().Be("6000");
            (await second.Client.GetStatusAsync("lost")).Should().Be(6_000);
            (await second.Client.UploadAsync("lost", file.AsMemory(6_000), startByte: 6_000, fileSize: file.Length)).EnsureSuccessStatusCode();
            (await second.Client.DownloadAsync("lost")).Should().Equal(file);
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(root);
        }
    }
}
