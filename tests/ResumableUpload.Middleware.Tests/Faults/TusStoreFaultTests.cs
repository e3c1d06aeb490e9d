using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Tus;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>
/// Store failures through tus: a PATCH that meets a failing store gets 503/507 problem details, HEAD never counts
/// more than the data file holds, and a PATCH from HEAD's offset completes the upload intact once the store is back.
/// Termination (DELETE) is the only way a client reaches the stores' delete calls.
/// </summary>
public sealed class TusStoreFaultTests
{
    private const int FileLength = 600_000;
    private const long FaultByte = 300_000;

    [Fact]
    public async Task WriterWrite_FailsAtByte300000_TusPatchReturns503AndResumeCompletesIntact()
    {
        var offset = await PatchFaultAsync(FaultPoint.WriterWrite, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the bytes written before the failing write are kept");
    }

    [Fact]
    public async Task WriterWrite_DiskFullAtByte300000_TusPatchReturns507AndResumeCompletesIntact()
    {
        var offset = await PatchFaultAsync(FaultPoint.WriterWrite, FaultKind.DiskFull, partialWrite: true);
        offset.Should().BeGreaterThan(0, "507 says the bytes received so far are kept");
    }

    [Fact]
    public async Task WriterFlush_FailsPastByte300000_TusPatchReturns503AndResumeCompletesIntact()
    {
        var offset = await PatchFaultAsync(FaultPoint.WriterFlush, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the progress published before the failing flush stays published");
    }

    [Fact]
    public async Task StateSave_FailsPastByte300000_TusPatchReturns503AndResumeCompletesIntact()
    {
        var offset = await PatchFaultAsync(FaultPoint.StateSave, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the progress published before the failing save stays published");
    }

    [Fact]
    public async Task StateSave_DiskFullPastByte300000_TusPatchReturns507AndResumeCompletesIntact()
    {
        await PatchFaultAsync(FaultPoint.StateSave, FaultKind.DiskFull);
    }

    [Fact]
    public async Task StateSave_FailsOnCreation_TusPostReturns503AndARetriedCreationCompletes()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 3);
        host.Plan.Fail(FaultPoint.StateSave);

        using (var failed = await host.Client.CreateAsync(length: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
            failed.Headers.Location.Should().BeNull("no upload was created");
        }

        host.Plan.Clear();
        var url = await host.Client.CreateUploadAsync(file.Length);
        await host.TusResumeAndVerifyAsync(url, file);
    }

    [Fact]
    public async Task StateGet_Fails_TusHeadAndPatchReturn503AndResumeCompletesIntact()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 4);
        var url = await host.Client.CreateUploadAsync(file.Length);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 200_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        host.Plan.Fail(FaultPoint.StateGet);

        using (var head = await host.Client.HeadAsync(url))
        {
            await head.ShouldBeStoreFailureAsync(FaultKind.Outage, hasBody: false);
        }

        using (var patch = await host.Client.PatchAsync(url, 200_000, file.AsMemory(200_000)))
        {
            await patch.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        host.Plan.Clear();
        (await host.TusOffsetShouldBeConsistentAsync(url, file)).Should().Be(200_000);
        await host.TusResumeAndVerifyAsync(url, file);
    }

    [Fact]
    public async Task StateDelete_Fails_TusDeleteReturns503AndTheRetryTerminatesTheUpload()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 5);
        var url = await host.Client.CreateUploadAsync(file.Length);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 200_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        host.Plan.Fail(FaultPoint.StateDelete);

        using (var failed = await host.Client.DeleteUploadAsync(url))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        // The bytes went before the record could: the record is left as an expired tombstone (offset 0), which
        // answers 410 and which a retried DELETE, or the expiry sweep, removes.
        (await host.Client.HeadAsync(url)).StatusCode.Should().Be(HttpStatusCode.Gone);
        host.Plan.Clear();
        using (var retried = await host.Client.DeleteUploadAsync(url))
        {
            retried.StatusCode.Should().Be(HttpStatusCode.NoContent);
        }

        (await host.Client.HeadAsync(url)).StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Gone);
        File.Exists(host.DataPath(FaultHost.TusFileId(url))).Should().BeFalse("a terminated upload's bytes are removed");
    }

    [Fact]
    public async Task DataDelete_Fails_TusDeleteReturns503AndTheBytesAreRemovedOnceTheStoreIsBack()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 6);
        var url = await host.Client.CreateUploadAsync(file.Length);
        (await host.Client.PatchAsync(url, 0, file.AsMemory(0, 200_000))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var dataPath = host.DataPath(FaultHost.TusFileId(url));
        host.Plan.Fail(FaultPoint.DataDelete);

        using (var failed = await host.Client.DeleteUploadAsync(url))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        // Whatever HEAD says now, it must not count bytes that are not in the data file.
        using (var head = await host.Client.HeadAsync(url))
        {
            if (head.StatusCode == HttpStatusCode.OK)
            {
                host.ShouldBeConsistent(FaultHost.TusFileId(url), long.Parse(head.Header("Upload-Offset")!, System.Globalization.CultureInfo.InvariantCulture), file);
            }
        }

        host.Plan.Clear();
        using (var retried = await host.Client.DeleteUploadAsync(url))
        {
            // tus: after a termination the server SHOULD answer 404 or 410; the retry of a terminated upload may too.
            retried.StatusCode.Should().BeOneOf(HttpStatusCode.NoContent, HttpStatusCode.NotFound, HttpStatusCode.Gone);
        }

        (await host.Client.HeadAsync(url)).StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.Gone);
        var engine = host.Host.Services.GetRequiredService<UploadEngine>();
        await engine.RemoveExpiredAsync(CancellationToken.None);

        // Regression (fixed): UploadEngine.DeleteCoreAsync used to delete the state record first and then the data. When the data store's
        // DeleteAsync fails, the client is told 503 "retry later", but the record is already gone: the retried
        // DELETE answers 404 without touching the data, and the expiration sweep only walks state records, so the
        // upload's bytes stay on disk for ever (an orphan no request or sweep will ever remove).
        File.Exists(dataPath).Should().BeFalse("after the failed termination was retried (and an expiration sweep ran) the terminated upload's {0} bytes must not stay on disk with no record pointing at them", new FileInfo(dataPath).Exists ? new FileInfo(dataPath).Length : 0);
    }

    /// <summary>
    /// Creates a tus upload, PATCHes the whole file with a fault armed past byte 300000, checks the refusal and
    /// HEAD's offset against the data file, then clears the fault and resumes. Returns HEAD's offset after the fault.
    /// </summary>
    private static async Task<long> PatchFaultAsync(FaultPoint point, FaultKind kind, bool partialWrite = false)
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: (int)point + 10);
        var url = await host.Client.CreateUploadAsync(file.Length);
        host.Plan.Fail(point, kind, pastByte: FaultByte, partialWrite: partialWrite);

        using (var request = TusClient.PatchRequest(url, 0, ReadOnlyMemory<byte>.Empty))
        {
            // Sent in 32 KiB blocks, so progress is published (every 64 KiB) before the fault byte is reached.
            request.Content = new TrickleContent(file, TusClient.OffsetOctetStream);
            using var failed = await host.Client.SendAsync(request);
            await failed.ShouldBeStoreFailureAsync(kind);
            failed.Header("Tus-Resumable").Should().Be(TusClient.Version, "tus refusals carry Tus-Resumable too");
        }

        host.Plan.Injected(point).Should().BeGreaterThan(0, "the armed fault must have fired");
        var offset = await host.TusOffsetShouldBeConsistentAsync(url, file);
        offset.Should().BeLessThanOrEqualTo(FaultByte, "nothing past the fault byte was stored");

        host.Plan.Clear();
        await host.TusResumeAndVerifyAsync(url, file);
        return offset;
    }
}
