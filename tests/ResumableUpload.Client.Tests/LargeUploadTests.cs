using System.Diagnostics;
using ResumableUpload.Client.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ResumableUpload.Client.Tests;

/// <summary>
/// The done-criterion of issue #17 for the .NET client: a 1 GiB file, generated on the fly, through a proxy that resets
/// the connection mid-body every 300 MiB and a server restart halfway, arrives intact (SHA-256 of the stored file).
/// </summary>
public sealed class LargeUploadTests(ITestOutputHelper output)
{
    private const long GiB = 1L << 30;

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    public async Task Upload_1GiBThroughAConnectionDroppingProxyAndAServerRestart_StoresTheFileIntact(Wire protocol)
    {
        await using var server = await UploadServer.StartAsync();
        await using var proxy = new TcpProxy(() => server.Port, dropEveryBytes: 300L << 20);
        var options = Clients.Options(protocol, proxy.BaseAddress);
        options.ChunkSize = 32L << 20;
        options.MaxRetryDelay = TimeSpan.FromSeconds(1);
        options.Checksums = false; // the chunk checksums have their own tests; here they would only double the CPU time
        var restarted = 0;
        Task? restart = null;
        var client = new ResumableUploadClient(Clients.Http(), options, new JsonFileUploadResumeStore(Clients.StorePath()));
        var progress = new Clients.ProgressLog(p =>
        {
            if (p.BytesUploaded > GiB / 2 && Interlocked.Exchange(ref restarted, 1) == 0)
            {
                restart = Task.Run(() => server.RestartAsync(TimeSpan.FromMilliseconds(500)));
            }
        });
        await using var content = new PatternStream(GiB);
        var clock = Stopwatch.StartNew();

        var result = await client.UploadAsync(UploadSource.FromStream(content, "big.bin", "big-" + protocol), progress);
        output.WriteLine($"{protocol}: 1 GiB in {clock.Elapsed.TotalSeconds:F1} s, {proxy.Drops} dropped connections, restarted: {restarted == 1}");

        restart.Should().NotBeNull();
        await restart!;
        proxy.Drops.Should().BeGreaterThanOrEqualTo(2, "the proxy resets a connection every 300 MiB");
        result.Length.Should().Be(GiB);
        (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(GiB));
    }
}
