using System.Net;
using System.Security.Cryptography;

using static ResumableUpload.ScaleOut.Tests.ScaleOutHttp;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>
/// The multi-instance proof: an upload through nginx survives the death (SIGKILL) of the instance receiving it and
/// resumes on another to an intact file; two instances appending to one upload at once never interleave bytes.
/// </summary>
public sealed class KillAnInstanceTests
{
    private const int MiB = 1024 * 1024;

    public static TheoryData<string> Combinations => new() { "Redis+S3", "PostgreSql+AzureBlob" };

    [Theory]
    [MemberData(nameof(Combinations))]
    public async Task Upload_ResumesOnAnotherInstance_AfterTheReceivingInstanceIsKilled(string combination)
    {
        await using var cluster = await Cluster.StartAsync(BackendCombinations.Get(combination));
        var file = RandomBytes(24 * MiB, seed: 7);
        const string fileId = "video.mp4-25165824-1764100000000";

        // 1. Start the upload through nginx; the body stalls after 12 MiB, as a client on a slow link would.
        using var gate = new CancellationTokenSource();
        var body = new StallingStream(file, stallAt: 12 * MiB, gate.Token);
        var first = SendAsync(cluster.Client, fileId, body, startByte: 0, file.Length);

        long before = 0;
        (await Eventually(async () => (before = await StatusAsync(cluster.Client, fileId)) >= 8 * MiB, TimeSpan.FromSeconds(60)))
            .Should().BeTrue("the first 12 MiB are published as they arrive (offset {0})\n{1}", before, cluster.Diagnostics());

        // 2. Kill the instance that is receiving the body.
        var receiving = cluster.Instances.Where(i => i.HasReceivedUpload).ToList();
        receiving.Should().ContainSingle("exactly one instance receives the body\n{0}", cluster.Diagnostics());
        receiving[0].Kill();
        await gate.CancelAsync();
        var firstAnswer = await first;
        firstAnswer.Should().NotBe(HttpStatusCode.OK, "the request died with its instance");

        // 3. Resume through nginx: another instance answers the offset and takes the rest once the dead instance's
        //    lease has run out (until then: 423, retry).
        long resumedFrom = -1;
        var finished = await Eventually(async () =>
        {
            resumedFrom = await StatusAsync(cluster.Client, fileId);
            var status = await SendAsync(cluster.Client, fileId, new MemoryStream(file, (int)resumedFrom, file.Length - (int)resumedFrom), resumedFrom, file.Length);
            return status == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(90));

        finished.Should().BeTrue("the upload resumes on a surviving instance\n{0}", cluster.Diagnostics());
        resumedFrom.Should().BeGreaterThanOrEqualTo(8 * MiB, "what was published before the kill survived it").And.BeLessThanOrEqualTo(12 * MiB);
        (await StatusAsync(cluster.Client, fileId)).Should().Be(file.Length);
        var stored = await DownloadAsync(cluster.Client, fileId);
        Convert.ToHexString(SHA256.HashData(stored)).Should().Be(Convert.ToHexString(SHA256.HashData(file)), "the file is intact");
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public async Task TwoInstances_AppendingToOneUploadAtOnce_NeverInterleaveBytes(string combination)
    {
        await using var cluster = await Cluster.StartAsync(BackendCombinations.Get(combination), instanceCount: 2);
        const string fileId = "race.bin-16777216-1764100000000";
        var length = 16 * MiB;
        var head = RandomBytes(MiB, seed: 1);
        (await SendAsync(cluster.Client, fileId, new MemoryStream(head), 0, length, contentLength: head.Length)).Should().Be(HttpStatusCode.OK);

        // Two different continuations of the same upload, each sent to its own instance at the same moment.
        var a = RandomBytes(length - MiB, seed: 2);
        var b = RandomBytes(length - MiB, seed: 3);
        using var directA = Cluster.Direct(cluster.Instances[0]);
        using var directB = Cluster.Direct(cluster.Instances[1]);
        var results = await Task.WhenAll(
            SendAsync(directA, fileId, new ThrottledStream(a), MiB, length),
            SendAsync(directB, fileId, new ThrottledStream(b), MiB, length));

        results.Count(r => r == HttpStatusCode.OK).Should().Be(1, "one writer wins; the other is refused (409/423): {0}", string.Join(", ", results));
        var stored = await DownloadAsync(cluster.Client, fileId);
        stored.Length.Should().Be(length);
        var tail = stored.AsSpan(MiB).ToArray();
        (tail.AsSpan().SequenceEqual(a) || tail.AsSpan().SequenceEqual(b)).Should().BeTrue("the bytes after the head are wholly one writer's");
        stored.AsSpan(0, MiB).SequenceEqual(head).Should().BeTrue();
    }

    /// <summary>A body sent in small pieces with pauses, so two racing requests overlap in time.</summary>
    private sealed class ThrottledStream(byte[] source) : MemoryStream(source, writable: false)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(2, cancellationToken);
            return await base.ReadAsync(buffer[..Math.Min(buffer.Length, 256 * 1024)], cancellationToken);
        }
    }
}
