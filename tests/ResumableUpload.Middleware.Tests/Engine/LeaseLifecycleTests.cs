using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Tus;

namespace ResumableUpload.Middleware.Tests.Engine;

/// <summary>
/// Regression tests of issue #11 (DESIGN section 6): a lease is claimed before a byte is touched, a stale holder cannot
/// publish, an append that ended early is never answered with a 2xx, sealed bytes are completed rather than resent,
/// silent bodies are ended, and refusals reach a client that is still sending.
/// </summary>
public sealed class LeaseLifecycleTests
{
    private const string Anonymous = "anonymous:anonymous";

    [Fact]
    public async Task StaleHolder_WakingUpAfterANewerHolderClaimed_CannotPublish()
    {
        var file = Protocol.RandomBytes(20_000, seed: 11);
        await using var host = await UploadTestHost.StartAsync(
            configureOptions: o =>
            {
                o.ProgressPublishInterval = 8_192;
                o.StalledWriterTimeout = TimeSpan.FromSeconds(30);
            },
            configureUploads: u => u.AddLockProvider<ExpiringLeaseLockProvider>().AddDataStore<PausingDataStore>(),
            configureServices: s =>
            {
                s.AddSingleton<FileSystemUploadDataStore>();
                s.AddSingleton(p => (ExpiringLeaseLockProvider)p.GetRequiredService<IUploadLockProvider>());
                s.AddSingleton(p => (PausingDataStore)p.GetRequiredService<IUploadDataStore>());
            });
        var leases = host.Services.GetRequiredService<ExpiringLeaseLockProvider>();
        var data = host.Services.GetRequiredService<PausingDataStore>();
        var state = host.Services.GetRequiredService<IUploadStateStore>();
        var key = UploadKeys.Create(Anonymous, "stale");

        // A: publishes 8192 bytes, writes 4096 more, then is paused (as by SIGSTOP) inside its next write.
        data.PauseWritesAt(12_288);
        using var a = await host.ConnectAsync();
        var aStream = a.GetStream();
        await RawHttp.WriteHeadAsync(aStream, "POST", "/upload", ("X-File-Id", "stale"), ("X-Start-Byte", "0"), ("X-File-Size", "20000"), ("Content-Length", "20000"));
        await aStream.WriteAsync(file.AsMemory(0, 8_192));
        await aStream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("stale") == 8_192)).Should().BeTrue();
        await aStream.WriteAsync(file.AsMemory(8_192, 8_192));
        await aStream.FlushAsync();
        await data.Paused.WaitAsync(TimeSpan.FromSeconds(30));
        (await host.Client.GetStatusAsync("stale")).Should().Be(8_192);

        // A's lease runs out while it is paused; B takes the upload over and has claimed it, but published nothing yet.
        leases.Expire(key);
        using var b = await host.ConnectAsync();
        var bStream = b.GetStream();
        await RawHttp.WriteHeadAsync(bStream, "POST", "/upload", ("X-File-Id", "stale"), ("X-Start-Byte", "8192"), ("X-File-Size", "20000"), ("Content-Length", "11808"));
        await bStream.WriteAsync(file.AsMemory(8_192, 100));
        await bStream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => (await state.GetAsync(key, default))?.FencingToken == 2)).Should().BeTrue("B claims the upload before it touches a byte");

        // A wakes up: its write lands past B's (the filesystem cannot fence it), but its publish is refused.
        data.Resume();
        var aAnswer = await ReadAnswerAsync(aStream);
        aAnswer.Should().NotBeInRange(200, 299, "A's bytes were not kept as the upload's");
        (await host.Client.GetStatusAsync("stale")).Should().Be(8_192, "a stale holder's offset is never published (it would count a hole of zeros)");

        // B finishes: the file is exactly the client's bytes.
        await bStream.WriteAsync(file.AsMemory(8_292));
        await bStream.FlushAsync();
        (await RawHttp.ReadStatusCodeAsync(bStream)).Should().Be(200);
        (await host.Client.GetStatusAsync("stale")).Should().Be(file.Length);
        (await host.Client.DownloadAsync("stale")).Should().Equal(file);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RevokedTusAppend_IsNeverAnswered2xx(bool withChecksum)
    {
        await using var host = await StartLeasingAsync();
        var leases = host.Services.GetRequiredService<LeasingLockProvider>();
        var body = Protocol.RandomBytes(50_000);
        var url = await host.Client.CreateUploadAsync(body.Length);

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        var headers = new List<(string, string)>
        {
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Offset", "0"),
            ("Content-Type", TusClient.OffsetOctetStream),
            ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)),
        };
        if (withChecksum)
        {
            headers.Add(("Upload-Checksum", TusClient.Checksum("sha1", body)));
        }

        await RawHttp.WriteHeadAsync(stream, "PATCH", new Uri(url).AbsolutePath, [.. headers]);
        await stream.WriteAsync(body.AsMemory(0, 10_000));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(() => Task.FromResult(leases.Held == 1))).Should().BeTrue();
        await Task.Delay(200); // the append is reading its body now

        leases.RevokeAll();

        (await ReadAnswerAsync(stream)).Should().NotBeInRange(200, 299, "the append was ended before its body arrived");
        var offset = await host.Client.GetOffsetAsync(url);
        offset.Should().BeLessThan(body.Length);
        if (withChecksum)
        {
            offset.Should().Be(0, "a body that did not arrive whole cannot be verified, so none of it counts");
        }
    }

    [Fact]
    public async Task SealedBytes_WhoseCompletionWasNotRecorded_AreCompletedOnResume_NotStartedOver()
    {
        var file = Protocol.RandomBytes(10_000, seed: 5);
        await using var host = await UploadTestHost.StartAsync(
            configureOptions: o => o.ProgressPublishInterval = 4_096,
            configureUploads: u => u.AddDataStore<SealingDataStore>().AddStateStore<CompletionFailingStateStore>(),
            configureServices: s =>
            {
                s.AddSingleton<FileSystemUploadDataStore>();
                s.AddSingleton<FileSystemUploadStateStore>();
                s.AddSingleton(p => (SealingDataStore)p.GetRequiredService<IUploadDataStore>());
                s.AddSingleton(p => (CompletionFailingStateStore)p.GetRequiredService<IUploadStateStore>());
                s.AddSingleton<CountingEvents>();
                s.AddSingleton<ResumableUploadEvents>(p => p.GetRequiredService<CountingEvents>());
            });
        var states = host.Services.GetRequiredService<CompletionFailingStateStore>();
        var data = host.Services.GetRequiredService<SealingDataStore>();
        states.FailCompletions = true;

        // 8192 bytes published, then the rest: the data store seals the bytes, the state store fails to record it.
        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "sealed"), ("X-Start-Byte", "0"), ("X-File-Size", "10000"), ("Content-Length", "10000"));
            await stream.WriteAsync(file.AsMemory(0, 8_192));
            await stream.FlushAsync();
            (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("sealed") == 8_192)).Should().BeTrue();
            await stream.WriteAsync(file.AsMemory(8_192));
            await stream.FlushAsync();
            (await RawHttp.ReadStatusCodeAsync(stream)).Should().Be(503, "the state store failed to record the completion");
        }

        states.FailCompletions = false;

        data.Sealed.Should().ContainSingle("the data store sealed the bytes before the failed save");
        var published = await host.Client.GetStatusAsync("sealed");
        published.Should().Be(8_192);
        var written = data.BytesWritten;

        // The client resumes from the published offset, sending the rest again.
        using (var resumed = await host.Client.UploadAsync("sealed", file.AsMemory((int)published), startByte: published, fileSize: file.Length))
        {
            resumed.StatusCode.Should().Be(HttpStatusCode.Conflict, "the upload already holds every byte");
            resumed.Headers.GetValues("Upload-Offset").Should().Equal(file.Length.ToString(CultureInfo.InvariantCulture));
        }

        data.BytesWritten.Should().Be(written, "the sealed bytes are kept, nothing is written again");
        (await host.Client.GetStatusAsync("sealed")).Should().Be(file.Length);
        (await host.Client.DownloadAsync("sealed")).Should().Equal(file);
        host.Services.GetRequiredService<CountingEvents>().Completed.Should().Be(1);
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Name == "SealedCompletionRecorded");
    }

    [Fact]
    public async Task SilentBody_IsEndedAfterTheIdleTimeout_WithItsBytesKept_EvenWhenNobodyAsks()
    {
        var file = Protocol.RandomBytes(5_000, seed: 9);
        await using var host = await UploadTestHost.StartAsync(configureOptions: o => o.StalledWriterTimeout = TimeSpan.FromSeconds(1));
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "silent"), ("X-Start-Byte", "0"), ("X-File-Size", "5000"), ("Content-Length", "5000"));
        await stream.WriteAsync(file.AsMemory(0, 1_000));
        await stream.FlushAsync();
        var started = System.Diagnostics.Stopwatch.StartNew();

        (await ReadAnswerAsync(stream)).Should().NotBeInRange(200, 299);
        started.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15), "the idle timeout (1 s) ends the request, not the minimum data rate");
        (await host.Client.GetStatusAsync("silent")).Should().Be(1_000, "the bytes that arrived are kept");
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Name == "IdleRequestEnded");

        using var resumed = await host.Client.UploadAsync("silent", file.AsMemory(1_000), startByte: 1_000, fileSize: file.Length);
        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("silent")).Should().Equal(file);
    }

    [Fact]
    public async Task RefusedLargeBody_IsDrained_SoTheClientReceivesThe409()
    {
        await using var host = await UploadTestHost.StartAsync();
        var body = new byte[32 << 20];

        // Nothing is stored for this id, so start byte 5 conflicts before a byte of the body is read.
        using var response = await host.Client.UploadAsync("refused-large", body, startByte: 5, fileSize: body.Length);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Be("0");
        (await host.Client.GetStatusAsync("refused-large")).Should().Be(0);
    }

    [Fact]
    public async Task RefusedBody_LongerThanTheDrainLimit_ClosesTheConnection()
    {
        await using var host = await UploadTestHost.StartAsync(configureOptions: o => o.RefusedBodyDrainLimit = 1 << 20);
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "refused-open"), ("X-Start-Byte", "5"), ("Transfer-Encoding", "chunked"));

        var status = await RawHttp.ReadStatusCodeAsync(stream);
        status.Should().Be(409);

        // The body goes on past the limit: the server reads up to it, then closes.
        var chunk = new byte[64 * 1024];
        var closed = false;
        try
        {
            for (var i = 0; i < 200 && !closed; i++)
            {
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
                await stream.WriteAsync(chunk);
                await stream.WriteAsync("\r\n"u8.ToArray());
            }
        }
        catch (IOException)
        {
            closed = true;
        }

        (closed || await RawHttp.ReadToEndOrClosedAsync(stream)).Should().BeTrue();
    }

    private static Task<UploadTestHost> StartLeasingAsync()
        => UploadTestHost.StartAsync(
            configureUploads: u => u.AddLockProvider<LeasingLockProvider>(),
            configureServices: s =>
            {
                s.AddSingleton<InProcessUploadLockProvider>();
                s.AddSingleton(p => (LeasingLockProvider)p.GetRequiredService<IUploadLockProvider>());
            });

    /// <summary>The status code of the answer, or 0 when the server closed the connection without one.</summary>
    private static async Task<int> ReadAnswerAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var received = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                received.Append(System.Text.Encoding.Latin1.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
        }

        var text = received.ToString();
        return text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3), CultureInfo.InvariantCulture) : 0;
    }
}

/// <summary>
/// A lock provider whose leases the test can let run out while their holder still runs (a paused process): then the
/// next request is granted a new lease with a larger token at once.
/// </summary>
internal sealed class ExpiringLeaseLockProvider : IUploadLockProvider
{
    private readonly Dictionary<string, Lease> _current = new(StringComparer.Ordinal);
    private long _tokens;

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_current)
            {
                if (!_current.TryGetValue(key, out var held) || held.Expired)
                {
                    var lease = new Lease(this, key, ++_tokens);
                    _current[key] = lease;
                    return lease;
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }

            await Task.Delay(10, cancellationToken);
        }
    }

    public void Expire(string key)
    {
        Lease? lease;
        lock (_current)
        {
            _current.TryGetValue(key, out lease);
        }

        lease?.Expire();
    }

    private sealed class Lease(ExpiringLeaseLockProvider owner, string key, long token) : IUploadLease
    {
        private readonly CancellationTokenSource _revoked = new();

        public long FencingToken => token;

        public CancellationToken Revoked => _revoked.Token;

        public bool Expired { get; private set; }

        public void Expire()
        {
            Expired = true;
            _revoked.Cancel();
        }

        public ValueTask DisposeAsync()
        {
            lock (owner._current)
            {
                if (owner._current.TryGetValue(key, out var current) && ReferenceEquals(current, this))
                {
                    owner._current.Remove(key);
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>The filesystem data store, with writes that stop (as a paused process would) from a position on.</summary>
internal sealed class PausingDataStore(FileSystemUploadDataStore inner) : IUploadDataStore
{
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _pauseAt = long.MaxValue;

    public Task Paused => _paused.Task;

    public void PauseWritesAt(long position) => Interlocked.Exchange(ref _pauseAt, position);

    public void Resume() => _resume.TrySetResult();

    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
        => new Writer(this, await inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken));

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken) => inner.CompleteAsync(key, length, fencingToken, cancellationToken);

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    private sealed class Writer(PausingDataStore owner, IUploadDataWriter inner) : IUploadDataWriter
    {
        public long Position => inner.Position;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (inner.Position >= Interlocked.Read(ref owner._pauseAt) && !owner._resume.Task.IsCompleted)
            {
                owner._paused.TrySetResult();
                await owner._resume.Task;
            }

            await inner.WriteAsync(data, cancellationToken);
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => inner.FlushAsync(toDisk, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>
/// The filesystem data store made to behave like an object store: once <see cref="CompleteAsync"/> sealed an upload's
/// bytes, reopening it keeps them (the writer is positioned at their end) instead of truncating.
/// </summary>
internal sealed class SealingDataStore(FileSystemUploadDataStore inner) : IUploadDataStore
{
    private long _written;

    public System.Collections.Concurrent.ConcurrentDictionary<string, long> Sealed { get; } = new(StringComparer.Ordinal);

    public long BytesWritten => Interlocked.Read(ref _written);

    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        if (offset > 0 && Sealed.TryGetValue(key, out var length))
        {
            offset = length;
        }
        else
        {
            Sealed.TryRemove(key, out _);
        }

        return new Writer(this, await inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken));
    }

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public async ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        await inner.CompleteAsync(key, length, fencingToken, cancellationToken);
        Sealed[key] = length;
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        Sealed.TryRemove(key, out _);
        return inner.DeleteAsync(key, cancellationToken);
    }

    private sealed class Writer(SealingDataStore owner, IUploadDataWriter inner) : IUploadDataWriter
    {
        public long Position => inner.Position;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            await inner.WriteAsync(data, cancellationToken);
            Interlocked.Add(ref owner._written, data.Length);
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => inner.FlushAsync(toDisk, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>The filesystem state store, failing every save that records a completion while <see cref="FailCompletions"/> is set (a state store outage).</summary>
internal sealed class CompletionFailingStateStore(FileSystemUploadStateStore inner) : IUploadStateStore
{
    public volatile bool FailCompletions;

    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken) => inner.ClaimAsync(key, fencingToken, cancellationToken);

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        if (record.IsCompleted && FailCompletions)
        {
            return ValueTask.FromException(new IOException("The state store is unavailable."));
        }

        return inner.SaveAsync(record, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken) => inner.DeleteAsync(key, fencingToken, cancellationToken);

    public IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.GetExpiredAsync(now, cancellationToken);
}

/// <summary>Counts completed-upload events.</summary>
internal sealed class CountingEvents : ResumableUploadEvents
{
    private int _completed;

    public int Completed => Volatile.Read(ref _completed);

    public override ValueTask OnCompletedAsync(UploadCompletedContext context)
    {
        Interlocked.Increment(ref _completed);
        return ValueTask.CompletedTask;
    }
}
