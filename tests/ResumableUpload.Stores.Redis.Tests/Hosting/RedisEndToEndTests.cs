using Microsoft.Extensions.DependencyInjection;
using System.Net;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.Redis.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.Redis.Tests.Hosting;

[Collection(RedisServerGroup.Name)]
public sealed class RedisEndToEndTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly string _storage = RedisTestHost.CreateTempDirectory();
    private readonly string _prefix = RedisTestStores.NewPrefix();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_storage, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task XFileIdUpload_InTwoParts_IsStoredWhole_WithItsStateInRedis()
    {
        await using var host = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        var file = StoreConformance.Bytes(300_000, seed: 7);
        const string FileId = "report.pdf-300000-1767225600000";

        using (var first = await XFileId.UploadAsync(host.Client, FileId, 0, file.Length, file.AsMemory(0, 120_000)))
        {
            first.StatusCode.Should().Be(HttpStatusCode.OK);
            (await first.Content.ReadAsStringAsync()).Should().Be("120000");
        }

        using (var status = await XFileId.StatusAsync(host.Client, FileId))
        {
            status.StatusCode.Should().Be(HttpStatusCode.OK);
            (await status.Content.ReadAsStringAsync()).Should().Be("120000");
        }

        using (var second = await XFileId.UploadAsync(host.Client, FileId, 120_000, file.Length, file.AsMemory(120_000)))
        {
            second.StatusCode.Should().Be(HttpStatusCode.OK);
            (await second.Content.ReadAsStringAsync()).Should().Be("300000");
        }

        (await XFileId.DownloadAsync(host.Client, FileId)).Should().Equal(file);

        // The record lives in Redis (under this host's prefix), saved under a lease of the Redis lock provider.
        var state = host.Services.GetRequiredService<IUploadStateStore>();
        state.Should().BeOfType<RedisUploadStateStore>();
        host.Services.GetRequiredService<IUploadLockProvider>().Should().BeOfType<RedisUploadLockProvider>();
        var records = new List<UploadRecord>();
        await foreach (var record in state.GetExpiredAsync(DateTimeOffset.UtcNow.AddYears(1), CancellationToken.None))
        {
            records.Add(record);
        }

        var stored = records.Should().ContainSingle(r => r.FileId == FileId).Subject;
        stored.Offset.Should().Be(file.Length);
        stored.IsCompleted.Should().BeTrue();
        stored.FencingToken.Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task XFileIdUpload_StartedOnOneInstance_ResumesOnAnother()
    {
        await using var a = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        await using var b = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        var file = StoreConformance.Bytes(200_000, seed: 11);
        const string FileId = "movie.mp4-200000-1767225600000";

        (await XFileId.UploadAsync(a.Client, FileId, 0, file.Length, file.AsMemory(0, 50_000))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await (await XFileId.StatusAsync(b.Client, FileId)).Content.ReadAsStringAsync()).Should().Be("50000");
        (await XFileId.UploadAsync(b.Client, FileId, 50_000, file.Length, file.AsMemory(50_000))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await (await XFileId.StatusAsync(a.Client, FileId)).Content.ReadAsStringAsync()).Should().Be("200000");

        (await XFileId.DownloadAsync(a.Client, FileId)).Should().Equal(file);
    }

    private static HttpRequestMessage IetfRequest(HttpMethod method, string url, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Add("Upload-Draft-Interop-Version", "8");
        return request;
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    [Fact]
    public async Task XFileIdUpload_BeingWrittenOnOneInstance_IsLockedForAnotherInstance()
    {
        await using var a = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        await using var b = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        var file = StoreConformance.Bytes(100_000, seed: 5);
        const string FileId = "slow.bin-100000-1767225600000";

        // A's request sends half its body, then pauses while it holds the upload's lock in Redis.
        var body = new PausingContent(file, pauseAfter: 50_000);
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = body };
        request.Headers.Add("X-File-Id", FileId);
        request.Headers.Add("X-File-Size", "100000");
        var writing = a.Client.SendAsync(request);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(10));
        var multiplexer = await a.Services.GetRequiredService<RedisConnection>().GetAsync(CancellationToken.None);
        var server = multiplexer.GetServer(multiplexer.GetEndPoints()[0]);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!server.Keys(pattern: _prefix + "lock:*").Any() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        server.Keys(pattern: _prefix + "lock:*").Should().ContainSingle("A's request holds the upload's lock");

        // B may not write the same upload meanwhile: it waits LockWaitTimeout, then answers 423.
        using (var locked = await XFileId.UploadAsync(b.Client, FileId, 0, file.Length, file))
        {
            locked.StatusCode.Should().Be((HttpStatusCode)423);
            locked.Headers.RetryAfter.Should().NotBeNull();
        }

        body.Resume();
        using (var done = await writing)
        {
            done.StatusCode.Should().Be(HttpStatusCode.OK);
            (await done.Content.ReadAsStringAsync()).Should().Be("100000");
        }

        server.Keys(pattern: _prefix + "lock:*").Should().BeEmpty("the lock is released when the request ends");
        (await XFileId.DownloadAsync(b.Client, FileId)).Should().Equal(file);
    }

    [Fact]
    public async Task IetfHead_OnAnotherInstance_EndsTheRunningPatch_WhichPublishesItsBytes_AndTheUploadResumesThere()
    {
        await using var a = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        await using var b = await RedisTestHost.StartWithRedisAsync(redis.Server.ConnectionString, _prefix, _storage);
        var file = StoreConformance.Bytes(100_000, seed: 9);
        const int Sent = 40_000;

        using var create = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent([]) };
        create.Headers.Add("Upload-Draft-Interop-Version", "8");
        create.Headers.Add("Upload-Complete", "?0");
        create.Headers.Add("Upload-Length", "100000");
        using var created = await a.Client.SendAsync(create);
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var url = created.Headers.Location!.OriginalString;

        // A's PATCH sends 40 000 bytes and pauses, holding the upload's lease.
        var body = new PausingContent(file, pauseAfter: Sent);
        using var patch = IetfRequest(HttpMethod.Patch, url, body);
        patch.Headers.Add("Upload-Offset", "0");
        patch.Headers.Add("Upload-Complete", "?1");
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/partial-upload");
        var writing = a.Client.SendAsync(patch);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(10));
        (await EventuallyAsync(() => Directory.EnumerateFiles(_storage, "*", SearchOption.AllDirectories).Any(f => new FileInfo(f).Length >= Sent)))
            .Should().BeTrue("instance A should have stored the bytes sent so far");

        // A HEAD on B asks A (through Redis) to end its request: A publishes what it has and lets go.
        using (var head = await b.Client.SendAsync(IetfRequest(HttpMethod.Head, url)))
        {
            head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        }

        var multiplexer = await b.Services.GetRequiredService<RedisConnection>().GetAsync(CancellationToken.None);
        var server = multiplexer.GetServer(multiplexer.GetEndPoints()[0]);
        (await EventuallyAsync(() => !server.Keys(pattern: _prefix + "lock:*").Any())).Should().BeTrue("A's request should end and release the lock");
        using (var head = await b.Client.SendAsync(IetfRequest(HttpMethod.Head, url)))
        {
            head.Headers.GetValues("Upload-Offset").Single().Should().Be("40000", "A published every byte it stored before letting go");
        }

        using var rest = IetfRequest(HttpMethod.Patch, url, new ReadOnlyMemoryContent(file.AsMemory(Sent)));
        rest.Headers.Add("Upload-Offset", "40000");
        rest.Headers.Add("Upload-Complete", "?1");
        rest.Content!.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/partial-upload");
        using (var resumed = await b.Client.SendAsync(rest))
        {
            resumed.StatusCode.Should().Be(HttpStatusCode.OK);
            resumed.Headers.GetValues("Upload-Complete").Single().Should().Be("?1");
        }

        (await b.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // A's request was ended without completing the upload.
        body.Resume();
        var ended = await Task.WhenAny(writing, Task.Delay(TimeSpan.FromSeconds(30)));
        ended.Should().BeSameAs(writing);
        if (writing.IsCompletedSuccessfully)
        {
            using var response = await writing;
            response.IsSuccessStatusCode.Should().BeFalse();
        }
    }

    [Fact]
    public async Task Host_StartedWhileRedisIsDown_Answers503_ThenServesOnceRedisIsUp()
    {
        await using var server = await RedisServer.StartAsync();
        await server.StopAsync();

        // No abortConnect in the string: the package keeps its one connection and reconnects by itself.
        await using var host = await RedisTestHost.StartWithRedisAsync($"{server.Endpoint},connectTimeout=1000,syncTimeout=2000,asyncTimeout=2000", _prefix, _storage);
        using (var down = await XFileId.StatusAsync(host.Client, "early.txt-1-1"))
        {
            down.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        }

        var multiplexer = await host.Services.GetRequiredService<RedisConnection>().GetAsync(CancellationToken.None);
        multiplexer.IsConnected.Should().BeFalse("the connection exists while Redis is down, and keeps trying");

        await server.StartAgainAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode code;
        do
        {
            await Task.Delay(200);
            using var upload = await XFileId.UploadAsync(host.Client, "early.txt-1-1", 0, 1, new byte[1]);
            code = upload.StatusCode;
        }
        while (code != HttpStatusCode.OK && DateTime.UtcNow < deadline);

        code.Should().Be(HttpStatusCode.OK);
        (await (await XFileId.StatusAsync(host.Client, "early.txt-1-1")).Content.ReadAsStringAsync()).Should().Be("1");
    }

    [Fact]
    public async Task Status_WhileRedisIsDown_Answers503_AndRecoversWhenItIsBack()
    {
        await using var server = await RedisServer.StartAsync();
        await using var host = await RedisTestHost.StartWithRedisAsync(server.ConnectionString, _prefix, _storage);
        const string FileId = "notes.txt-10-1767225600000";
        (await XFileId.UploadAsync(host.Client, FileId, 0, 10, new byte[4])).StatusCode.Should().Be(HttpStatusCode.OK);

        await server.StopAsync();
        using (var down = await XFileId.StatusAsync(host.Client, FileId))
        {
            down.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
            down.Headers.RetryAfter.Should().NotBeNull();
        }

        using (var upload = await XFileId.UploadAsync(host.Client, FileId, 4, 10, new byte[6]))
        {
            upload.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        }

        await server.StartAgainAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode code;
        do
        {
            await Task.Delay(200);
            using var status = await XFileId.StatusAsync(host.Client, FileId);
            code = status.StatusCode;
        }
        while (code != HttpStatusCode.OK && DateTime.UtcNow < deadline);

        code.Should().Be(HttpStatusCode.OK, "the host reconnects to Redis by itself");
    }
}

/// <summary>A request body that sends its first bytes, then waits to be resumed before sending the rest.</summary>
internal sealed class PausingContent(byte[] bytes, int pauseAfter) : HttpContent
{
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Paused => _paused.Task;

    public void Resume() => _resume.TrySetResult();

    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        await stream.WriteAsync(bytes.AsMemory(0, pauseAfter));
        await stream.FlushAsync();
        _paused.TrySetResult();
        await _resume.Task;
        await stream.WriteAsync(bytes.AsMemory(pauseAfter));
    }

    protected override bool TryComputeLength(out long length)
    {
        length = bytes.Length;
        return true;
    }
}
