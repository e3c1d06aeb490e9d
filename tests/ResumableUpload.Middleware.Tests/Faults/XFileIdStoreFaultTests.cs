using System.Net;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>
/// Store failures at each fault point, through the X-File-Id protocol over real HTTP: the client gets 503 (outage,
/// with Retry-After) or 507 (no space) as problem details, GET /status never counts more than the data file holds,
/// and once the store is back the upload resumes from GET /status and completes intact.
/// </summary>
public sealed class XFileIdStoreFaultTests
{
    private const int FileLength = 600_000;
    private const long FaultByte = 300_000;
    private const int FirstPart = 200_000;

    // ---- Faults in the middle of a body ---------------------------------------------------------------------

    [Fact]
    public async Task WriterWrite_FailsAtByte300000_Returns503AndResumeCompletesIntact()
    {
        var (offset, onDisk) = await MidBodyFaultAsync("write-outage", FaultPoint.WriterWrite, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the bytes written before the failing write are kept and published");
        onDisk.Should().BeLessThanOrEqualTo(FaultByte);
    }

    [Fact]
    public async Task WriterWrite_DiskFullAtByte300000_Returns507AndResumeCompletesIntact()
    {
        // A full disk writes what fits, then fails: the data file holds bytes past what the writer counted.
        var (offset, onDisk) = await MidBodyFaultAsync("write-enospc", FaultPoint.WriterWrite, FaultKind.DiskFull, partialWrite: true);
        offset.Should().BeGreaterThan(0, "507 says the bytes received so far are kept");
        onDisk.Should().Be(FaultByte, "the torn write filled the file up to the fault byte");
    }

    [Fact]
    public async Task WriterFlush_FailsPastByte300000_Returns503AndResumeCompletesIntact()
    {
        var (offset, _) = await MidBodyFaultAsync("flush-outage", FaultPoint.WriterFlush, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the progress published before the failing flush stays published");
    }

    [Fact]
    public async Task WriterFlush_DiskFullPastByte300000_Returns507AndResumeCompletesIntact()
    {
        await MidBodyFaultAsync("flush-enospc", FaultPoint.WriterFlush, FaultKind.DiskFull);
    }

    [Fact]
    public async Task StateSave_FailsPastByte300000_Returns503AndResumeCompletesIntact()
    {
        var (offset, _) = await MidBodyFaultAsync("save-outage", FaultPoint.StateSave, FaultKind.Outage);
        offset.Should().BeGreaterThan(0, "the progress published before the failing save stays published");
    }

    [Fact]
    public async Task StateSave_DiskFullPastByte300000_Returns507AndResumeCompletesIntact()
    {
        await MidBodyFaultAsync("save-enospc", FaultPoint.StateSave, FaultKind.DiskFull);
    }

    [Fact]
    public async Task DataComplete_Fails_Returns503AndTheUploadIsNotCompletedUntilTheResume()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 7);
        host.Plan.Fail(FaultPoint.DataComplete);

        using (var failed = await host.Client.UploadAsync("complete-outage", file, startByte: 0, fileSize: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        host.Plan.Injected(FaultPoint.DataComplete).Should().BeGreaterThan(0);
        var offset = await host.StatusShouldBeConsistentAsync("complete-outage", file);
        offset.Should().BeLessThan(file.Length, "an upload the data store could not complete is not reported complete");
        using (var download = new HttpRequestMessage(HttpMethod.Get, "download"))
        {
            download.Headers.Add("X-File-Id", "complete-outage");
            using var response = await host.Client.SendAsync(download);
            response.StatusCode.Should().Be(HttpStatusCode.NotFound, "an uncompleted upload is not downloadable");
        }

        host.Plan.Clear();
        await host.ResumeAndVerifyAsync("complete-outage", file);
    }

    // ---- Faults before any byte of the body is taken ---------------------------------------------------------

    [Fact]
    public async Task StateGet_Fails_StatusAndUploadReturn503AndResumeCompletesIntact()
    {
        var (host, file) = await StartWithFirstPartAsync("get-outage");
        await using var scope = host;
        host.Plan.Fail(FaultPoint.StateGet);

        using (var status = new HttpRequestMessage(HttpMethod.Get, "status"))
        {
            status.Headers.Add("X-File-Id", "get-outage");
            using var response = await host.Client.SendAsync(status);
            await response.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        using (var failed = await host.Client.UploadAsync("get-outage", file.AsMemory(FirstPart), startByte: FirstPart, fileSize: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        host.Plan.Clear();
        await RefusedWithoutChangeThenResumeAsync(host, "get-outage", file);
    }

    [Fact]
    public async Task StateSave_FailsOnCreation_Returns503AndNothingIsStoredAndRetryCompletesIntact()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 8);
        host.Plan.Fail(FaultPoint.StateSave);

        using (var failed = await host.Client.UploadAsync("create-outage", file, startByte: 0, fileSize: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        (await host.StatusShouldBeConsistentAsync("create-outage", file)).Should().Be(0);
        host.Plan.Calls(FaultPoint.DataOpenWriter).Should().Be(0, "no byte is written before the upload's record exists");
        host.Plan.Clear();
        await host.ResumeAndVerifyAsync("create-outage", file);
    }

    [Fact]
    public async Task DataOpenWriter_Fails_Returns503AndResumeCompletesIntact()
    {
        await OpenWriterFaultAsync("open-outage", FaultKind.Outage);
    }

    [Fact]
    public async Task DataOpenWriter_DiskFull_Returns507AndResumeCompletesIntact()
    {
        await OpenWriterFaultAsync("open-enospc", FaultKind.DiskFull);
    }

    [Fact]
    public async Task LockAcquire_Fails_Returns503WhileStatusStillAnswersAndResumeCompletesIntact()
    {
        var (started, file) = await StartWithFirstPartAsync("lock-outage");
        await using var scope = started;
        started.Plan.Fail(FaultPoint.LockAcquire);

        using (var failed = await started.Client.UploadAsync("lock-outage", file.AsMemory(FirstPart), startByte: FirstPart, fileSize: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        started.Plan.Injected(FaultPoint.LockAcquire).Should().Be(1);
        (await started.StatusShouldBeConsistentAsync("lock-outage", file)).Should().Be(FirstPart, "GET /status takes no lock, and the refused request changed nothing");
        started.Plan.Clear();
        await RefusedWithoutChangeThenResumeAsync(started, "lock-outage", file);
    }

    // ---- Faults outside an append ----------------------------------------------------------------------------

    [Fact]
    public async Task DataOpenRead_Fails_DownloadReturns503AndSucceedsOnceTheStoreIsBack()
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: 9);
        (await host.Client.UploadAsync("read-outage", file, startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
        host.Plan.Fail(FaultPoint.DataOpenRead);

        using (var download = new HttpRequestMessage(HttpMethod.Get, "download"))
        {
            download.Headers.Add("X-File-Id", "read-outage");
            using var response = await host.Client.SendAsync(download);
            await response.ShouldBeStoreFailureAsync(FaultKind.Outage);
        }

        (await host.StatusShouldBeConsistentAsync("read-outage", file)).Should().Be(file.Length);
        host.Plan.Clear();
        Protocol.Sha256(await host.Client.DownloadAsync("read-outage")).Should().Be(Protocol.Sha256(file));
    }

    // ---- Helpers ---------------------------------------------------------------------------------------------

    /// <summary>
    /// One POST of the whole file with a fault armed past byte 300000: the refusal, a consistent offset at or
    /// below the fault byte, then the resume. Returns the offset and the data file's length after the fault.
    /// </summary>
    private static async Task<(long Offset, long OnDisk)> MidBodyFaultAsync(string fileId, FaultPoint point, FaultKind kind, bool partialWrite = false)
    {
        await using var host = await FaultHost.StartAsync();
        var file = Protocol.RandomBytes(FileLength, seed: fileId.Length);
        host.Plan.Fail(point, kind, pastByte: FaultByte, partialWrite: partialWrite);

        using (var request = Protocol.UploadRequest(fileId, ReadOnlyMemory<byte>.Empty, startByte: 0, fileSize: file.Length))
        {
            // Sent in 32 KiB blocks, so progress is published (every 64 KiB) before the fault byte is reached.
            request.Content = new TrickleContent(file, "application/octet-stream");
            using var failed = await host.Client.SendAsync(request);
            await failed.ShouldBeStoreFailureAsync(kind);
        }

        host.Plan.Injected(point).Should().BeGreaterThan(0, "the armed fault must have fired");
        var offset = await host.StatusShouldBeConsistentAsync(fileId, file);
        offset.Should().BeLessThanOrEqualTo(FaultByte, "nothing past the fault byte was stored");
        var onDisk = host.BytesOnDisk(fileId).LongLength;

        host.Plan.Clear();
        await host.ResumeAndVerifyAsync(fileId, file);
        return (offset, onDisk);
    }

    private static async Task OpenWriterFaultAsync(string fileId, FaultKind kind)
    {
        var (started, file) = await StartWithFirstPartAsync(fileId);
        await using var scope = started;
        started.Plan.Fail(FaultPoint.DataOpenWriter, kind);

        using (var failed = await started.Client.UploadAsync(fileId, file.AsMemory(FirstPart), startByte: FirstPart, fileSize: file.Length))
        {
            await failed.ShouldBeStoreFailureAsync(kind);
        }

        started.Plan.Injected(FaultPoint.DataOpenWriter).Should().Be(1);
        started.Plan.Clear();
        await RefusedWithoutChangeThenResumeAsync(started, fileId, file);
    }

    /// <summary>A refusal before the body must leave the first part exactly as it was; then the resume completes.</summary>
    private static async Task RefusedWithoutChangeThenResumeAsync(FaultHost host, string fileId, byte[] file)
    {
        (await host.StatusShouldBeConsistentAsync(fileId, file)).Should().Be(FirstPart);
        host.BytesOnDisk(fileId).Length.Should().Be(FirstPart);
        await host.ResumeAndVerifyAsync(fileId, file);
    }

    /// <summary>Starts a fault host and uploads the first 200000 bytes of a 600000-byte file without faults.</summary>
    private static async Task<(FaultHost Host, byte[] File)> StartWithFirstPartAsync(string fileId)
    {
        var file = Protocol.RandomBytes(FileLength, seed: fileId.Length + 100);
        var host = await FaultHost.StartAsync();
        using var first = await host.Client.UploadAsync(fileId, file.AsMemory(0, FirstPart), startByte: 0, fileSize: file.Length);
        first.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.StatusShouldBeConsistentAsync(fileId, file)).Should().Be(FirstPart);
        return (host, file);
    }
}
