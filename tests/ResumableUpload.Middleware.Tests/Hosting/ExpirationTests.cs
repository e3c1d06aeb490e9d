using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Hosting;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Hosting;

/// <summary>Unfinished uploads expire, completed ones are kept for a while, and the hosted service removes what expired.</summary>
public sealed class ExpirationTests
{
    private const string AnonymousPartition = "anonymous:anonymous";
    private static readonly TimeSpan Expiration = TimeSpan.FromHours(1);
    private static readonly TimeSpan Retention = TimeSpan.FromHours(3);

    /// <summary>So long that advancing the fake clock in a test never wakes the background scan by accident.</summary>
    private static readonly TimeSpan NoBackgroundScan = TimeSpan.FromDays(30);

    [Fact]
    public async Task Status_PartialUpload_ReportsCountUntilExpirationThenZeroBeforeCleanup()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("partial", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        time.Advance(Expiration - TimeSpan.FromSeconds(1));
        (await host.Client.GetStatusAsync("partial")).Should().Be(1_000, "the upload has not expired yet");

        time.Advance(TimeSpan.FromSeconds(1));
        (await host.Client.GetStatusAsync("partial")).Should().Be(0, "an expired upload is invisible even before it is removed");
        PathsOf(host, "partial").Should().OnlyContain(f => File.Exists(f), "no cleanup has run yet");
    }

    [Fact]
    public async Task Append_AtOldCountAfterExpiration_Is409WithZero()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("late", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        time.Advance(Expiration);

        using var response = await host.Client.UploadAsync("late", Protocol.RandomBytes(4_000), startByte: 1_000, fileSize: 5_000);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Be("0", "an expired upload must be sent again from byte 0");
    }

    [Fact]
    public async Task RunOnce_ExpiredPartialUpload_RemovesStateAndDataFiles()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("gone", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("kept", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        var (goneState, goneData) = FilesOf(host, "gone");
        File.Exists(goneState).Should().BeTrue();
        File.Exists(goneData).Should().BeTrue();
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(0);

        time.Advance(Expiration - TimeSpan.FromMinutes(10));
        (await host.Client.UploadAsync("kept", Protocol.RandomBytes(1_000), startByte: 1_000, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        time.Advance(TimeSpan.FromMinutes(10));
        var removed = await Sweeper(host).RunOnceAsync(CancellationToken.None);

        removed.Should().Be(1);
        File.Exists(goneState).Should().BeFalse();
        File.Exists(goneData).Should().BeFalse();
        PathsOf(host, "kept").Should().OnlyContain(f => File.Exists(f), "the other upload was refreshed and has not expired");
        (await host.Client.GetStatusAsync("kept")).Should().Be(2_000);
        host.Logs.LibraryEntries.Should().ContainSingle(e => e.EventId.Id == 7, "UploadExpired is logged once");
    }

    [Fact]
    public async Task RunOnce_ExpiredUploadRestartedBeforeCleanup_KeepsTheNewUpload()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("again", Protocol.RandomBytes(1_000, seed: 1), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        time.Advance(Expiration + TimeSpan.FromMinutes(1));
        var fresh = Protocol.RandomBytes(800, seed: 2);

        (await host.Client.UploadAsync("again", fresh)).StatusCode.Should().Be(HttpStatusCode.OK);
        var removed = await Sweeper(host).RunOnceAsync(CancellationToken.None);

        removed.Should().Be(0, "the expired record was replaced by a live one");
        (await host.Client.GetStatusAsync("again")).Should().Be(800);
        (await host.Client.DownloadAsync("again")).Should().Equal(fresh);
    }

    [Fact]
    public async Task Status_CompletedUpload_ReportsSizeUntilRetentionPasses()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        var file = Protocol.RandomBytes(2_500);
        (await host.Client.UploadAsync("done", file)).StatusCode.Should().Be(HttpStatusCode.OK);

        time.Advance(Expiration + TimeSpan.FromMinutes(1));
        (await host.Client.GetStatusAsync("done")).Should().Be(2_500, "completed uploads are kept longer than unfinished ones");
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(0);
        (await host.Client.DownloadAsync("done")).Should().Equal(file);

        time.Advance(Retention - Expiration - TimeSpan.FromMinutes(1));
        (await host.Client.GetStatusAsync("done")).Should().Be(0, "the retention has passed");
        using var request = new HttpRequestMessage(HttpMethod.Get, "download");
        request.Headers.Add("X-File-Id", "done");
        (await host.Client.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(1);
        PathsOf(host, "done").Should().OnlyContain(f => !File.Exists(f));
    }

    [Fact]
    public async Task Append_RefreshesIncompleteUploadsExpiration()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("sliding", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        time.Advance(TimeSpan.FromMinutes(50));
        (await host.Client.UploadAsync("sliding", Protocol.RandomBytes(1_000), startByte: 1_000, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        time.Advance(TimeSpan.FromMinutes(50));

        (await host.Client.GetStatusAsync("sliding")).Should().Be(2_000, "100 minutes after creation but 50 after the last append");
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(0);
        time.Advance(TimeSpan.FromMinutes(10));
        (await host.Client.GetStatusAsync("sliding")).Should().Be(0);
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(1);
    }

    [Fact]
    public async Task HostedService_ClockAdvancedByScanInterval_RemovesExpiredUploads()
    {
        var time = new FakeTimeProvider();
        var scanInterval = TimeSpan.FromMinutes(5);
        await using var host = await StartAsync(time, o =>
        {
            o.IncompleteUploadExpiration = TimeSpan.FromMinutes(1);
            o.ExpirationScanInterval = scanInterval;
        });
        (await host.Client.UploadAsync("swept", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        var (state, data) = FilesOf(host, "swept");
        File.Exists(data).Should().BeTrue();

        // The background service creates its timer when it starts running, which may be just after the host
        // started: advance one scan interval at a time until a tick has removed the files.
        var removed = await Protocol.EventuallyAsync(async () =>
        {
            time.Advance(scanInterval);
            await Task.Delay(10);
            return !File.Exists(state) && !File.Exists(data);
        });

        removed.Should().BeTrue("the hosted service removes expired uploads on its own");
        (await host.Client.GetStatusAsync("swept")).Should().Be(0);
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Id == 7);
    }

    [Fact]
    public async Task RunOnce_UploadWhoseLockIsHeld_IsNotRemoved()
    {
        var time = new FakeTimeProvider();
        await using var host = await StartAsync(time);
        (await host.Client.UploadAsync("locked", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 5_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        var (state, data) = FilesOf(host, "locked");
        var locks = host.Services.GetRequiredService<IUploadLockProvider>();
        time.Advance(Expiration + TimeSpan.FromMinutes(1));

        var held = await locks.TryAcquireAsync(UploadKeys.Create(AnonymousPartition, "locked"), TimeSpan.FromSeconds(5), CancellationToken.None);
        held.Should().NotBeNull();
        await using (held!)
        {
            (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(0, "an upload being written is not removed");
            File.Exists(state).Should().BeTrue();
            File.Exists(data).Should().BeTrue();
        }

        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(1, "once the lock is free the expired upload goes");
        File.Exists(state).Should().BeFalse();
        File.Exists(data).Should().BeFalse();
    }

    [Fact]
    public async Task RunOnce_AppendInProgressPastExpiration_IsNotRemovedAndCompletes()
    {
        var time = new FakeTimeProvider();

        // Expiry shorter than the body's idle timeout: the append is past its expiry but not silent for long enough
        // to be ended by the idle timeout (which the fake clock drives too).
        var expiration = TimeSpan.FromMinutes(30);
        await using var host = await StartAsync(time, o =>
        {
            o.IncompleteUploadExpiration = expiration;
            o.StalledWriterTimeout = TimeSpan.FromHours(1);
        });
        var file = Protocol.RandomBytes(3_000);
        var (state, data) = FilesOf(host, "streaming");

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload",
            ("X-File-Id", "streaming"),
            ("X-Start-Byte", "0"),
            ("X-File-Size", file.Length.ToString(CultureInfo.InvariantCulture)),
            ("Content-Length", file.Length.ToString(CultureInfo.InvariantCulture)));
        await stream.WriteAsync(file.AsMemory(0, 1_000));
        await stream.FlushAsync();

        // The record is created under the lock, before the body is read: once it exists the append holds the lock.
        (await Protocol.EventuallyAsync(() => Task.FromResult(File.Exists(state)))).Should().BeTrue();
        time.Advance(expiration + TimeSpan.FromMinutes(1));
        (await Sweeper(host).RunOnceAsync(CancellationToken.None)).Should().Be(0, "the upload is being written");
        File.Exists(state).Should().BeTrue();

        await stream.WriteAsync(file.AsMemory(1_000));
        await stream.FlushAsync();
        (await RawHttp.ReadStatusCodeAsync(stream)).Should().Be(200);

        (await host.Client.GetStatusAsync("streaming")).Should().Be(file.Length, "finishing the append refreshed the record");
        (await host.Client.DownloadAsync("streaming")).Should().Equal(file);
        File.Exists(data).Should().BeTrue();
    }

    private static Task<UploadTestHost> StartAsync(FakeTimeProvider time, Action<ResumableUploadOptions>? configure = null)
        => UploadTestHost.StartAsync(
            configureOptions: o =>
            {
                o.IncompleteUploadExpiration = Expiration;
                o.CompletedUploadRetention = Retention;
                o.ExpirationScanInterval = NoBackgroundScan;
                configure?.Invoke(o);
            },
            configureServices: s => s.AddSingleton<TimeProvider>(time));

    private static UploadExpirationService Sweeper(UploadTestHost host)
        => host.Services.GetServices<IHostedService>().OfType<UploadExpirationService>().Single();

    private static string[] PathsOf(UploadTestHost host, string fileId)
    {
        var (state, data) = FilesOf(host, fileId);
        return [state, data];
    }

    private static (string State, string Data) FilesOf(UploadTestHost host, string fileId)
    {
        var key = UploadKeys.Create(AnonymousPartition, fileId);
        return (Path.Combine(host.StorageRoot, "state", key[..2], key + ".json"), Path.Combine(host.StorageRoot, "data", key[..2], key + ".bin"));
    }
}
