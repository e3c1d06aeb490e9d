using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

using static ResumableUpload.ScaleOut.Tests.ScaleOutHttp;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>
/// Issue #11, points 4 and 5 behind nginx: a client that stops sending on one instance (its connection left open) does
/// not keep the upload locked for the others, and a refused POST with a large body gets its 409 through nginx instead
/// of a 502.
/// </summary>
public sealed class StalledWriterAndRefusalTests
{
    private const int MiB = 1024 * 1024;

    [Theory]
    [MemberData(nameof(KillAnInstanceTests.Combinations), MemberType = typeof(KillAnInstanceTests))]
    public async Task SilentClientOnOneInstance_DoesNotLockTheUpload_ForAClientResumingThroughAnother(string combination)
    {
        await using var cluster = await Cluster.StartAsync(BackendCombinations.Get(combination), instanceCount: 2);
        var file = RandomBytes(6 * MiB, seed: 21);
        const string fileId = "stalled.bin-6291456-1764100000000";

        // A client sends 3 MiB to the first instance, then goes silent with its connection open (a vanished laptop).
        using var direct0 = Cluster.Direct(cluster.Instances[0]);
        using var gate = new CancellationTokenSource();
        var stalled = SendAsync(direct0, fileId, new StallingStream(file, 3 * MiB, gate.Token), 0, file.Length);
        (await Eventually(async () => await StatusAsync(cluster.Client, fileId) >= MiB, TimeSpan.FromSeconds(30)))
            .Should().BeTrue("the first bytes are published as they arrive\n{0}", cluster.Diagnostics());

        // The same client resumes through the other instance. The silent request ends itself (body idle timeout) and
        // releases the upload, so the resume succeeds within seconds, not when the data rate finally runs out.
        using var direct1 = Cluster.Direct(cluster.Instances[1]);
        var clock = Stopwatch.StartNew();
        long resumedFrom = -1;
        var finished = await Eventually(async () =>
        {
            resumedFrom = await StatusAsync(direct1, fileId);
            return await SendAsync(direct1, fileId, new MemoryStream(file, (int)resumedFrom, file.Length - (int)resumedFrom), resumedFrom, file.Length) == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(60));

        finished.Should().BeTrue("the upload is not held by the silent request\n{0}", cluster.Diagnostics());
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "the idle timeout (5 s) plus a lock wait frees the upload");
        resumedFrom.Should().BeGreaterThanOrEqualTo(MiB);
        await gate.CancelAsync();
        (await stalled).Should().NotBe(HttpStatusCode.OK, "the silent request was ended, not answered as a success");
        var stored = await DownloadAsync(cluster.Client, fileId);
        Convert.ToHexString(SHA256.HashData(stored)).Should().Be(Convert.ToHexString(SHA256.HashData(file)));
    }

    [Fact]
    public async Task RefusedLargePost_ThroughNginx_GetsIts409_NotA502()
    {
        await using var cluster = await Cluster.StartAsync(BackendCombinations.Get("Redis+S3"), instanceCount: 1);
        var body = new byte[32 * MiB];

        for (var attempt = 0; attempt < 5; attempt++)
        {
            // Nothing is stored for this id: start byte 5 conflicts before the body is read.
            var status = await SendAsync(cluster.Client, $"refused-{attempt}", new MemoryStream(body), startByte: 5, fileSize: 5 + body.Length);
            status.Should().Be(HttpStatusCode.Conflict, "attempt {0}: the answer reaches the client through nginx\n{1}", attempt, cluster.Diagnostics());
        }
    }
}
