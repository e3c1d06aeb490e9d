using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Ietf;

namespace ResumableUpload.Middleware.Tests.Engine;

/// <summary>
/// How the engine uses leases (what distributed lock providers grant): every record saved under a lease carries its
/// fencing token, a revoked lease ends the append with its bytes published, a fencing store's refusal is answered as
/// "locked" (retry), and a takeover asks the holder on another instance to let go.
/// </summary>
public sealed class LeaseTests
{
    [Fact]
    public async Task RecordsSavedUnderALease_CarryItsFencingToken()
    {
        await using var host = await StartAsync();
        var leases = host.Services.GetRequiredService<LeasingLockProvider>();
        var file = Protocol.RandomBytes(10_000);

        (await host.Client.UploadAsync("fenced", file.AsMemory(0, 4_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
        var first = await StateAsync(host, "fenced");
        first.FencingToken.Should().Be(leases.LastToken).And.BeGreaterThan(0);

        (await host.Client.UploadAsync("fenced", file.AsMemory(4_000), startByte: 4_000, fileSize: file.Length)).EnsureSuccessStatusCode();
        var second = await StateAsync(host, "fenced");
        second.FencingToken.Should().Be(leases.LastToken).And.BeGreaterThan(first.FencingToken);
        second.IsCompleted.Should().BeTrue();
    }

    [Fact]
    public async Task RevokedLease_EndsTheAppend_WithItsBytesPublished()
    {
        await using var host = await StartAsync(o => o.ProgressPublishInterval = 4096);
        var leases = host.Services.GetRequiredService<LeasingLockProvider>();
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "revoked"), ("X-Start-Byte", "0"), ("X-File-Size", "100000"), ("Content-Length", "100000"));
        await stream.WriteAsync(Protocol.RandomBytes(8_192));
        await stream.FlushAsync();
        (await Protocol.EventuallyAsync(async () => await host.Client.GetStatusAsync("revoked") == 8_192)).Should().BeTrue();

        leases.RevokeAll(); // the lease could not be renewed, or another instance asked for the upload

        (await RawHttp.ReadToEndOrClosedAsync(stream)).Should().BeTrue("the revoked request ends (whoever took the upload over answers its own client)");
        (await host.Client.GetStatusAsync("revoked")).Should().Be(8_192, "the bytes that reached the store are kept");
        leases.Held.Should().Be(0, "the revoked holder released the lock");
    }

    [Fact]
    public async Task SaveRefusedByAFencingStore_IsAnsweredAsLocked_AndChangesNothing()
    {
        await using var host = await StartAsync();
        var file = Protocol.RandomBytes(5_000);
        (await host.Client.UploadAsync("stale", file.AsMemory(0, 2_000), startByte: 0, fileSize: file.Length)).EnsureSuccessStatusCode();
        host.Services.GetRequiredService<FencingStateStore>().RefuseEverySave = true; // a newer holder has written since

        using var response = await host.Client.UploadAsync("stale", file.AsMemory(2_000), startByte: 2_000, fileSize: file.Length);

        response.StatusCode.Should().Be(HttpStatusCode.Locked, "another instance holds the upload now; the client retries");
        (await response.Content.ReadAsStringAsync()).Should().Contain("lease");
        host.Services.GetRequiredService<FencingStateStore>().RefuseEverySave = false;
        (await host.Client.GetStatusAsync("stale")).Should().Be(2_000);
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Name == "LeaseLost");
    }

    [Fact]
    public async Task IetfTakeover_WithoutALocalWriter_AsksTheLockProviderForAHandover()
    {
        await using var host = await StartAsync();
        var leases = host.Services.GetRequiredService<LeasingLockProvider>();
        var url = await host.Client.CreateIncompleteAsync(6, Protocol.RandomBytes(100));

        using var head = await host.Client.HeadAsync(6, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        leases.HandoverRequests.Should().ContainSingle().Which.Should().HaveLength(64);
    }

    private static Task<UploadTestHost> StartAsync(Action<ResumableUploadOptions>? configure = null)
        => UploadTestHost.StartAsync(
            configureOptions: configure,
            configureUploads: u => u.AddLockProvider<LeasingLockProvider>().AddStateStore<FencingStateStore>(),
            configureServices: s =>
            {
                s.AddSingleton<InProcessUploadLockProvider>();
                s.AddSingleton<LeasingLockProvider>(p => (LeasingLockProvider)p.GetRequiredService<IUploadLockProvider>());
                s.AddSingleton<FileSystemUploadStateStore>();
                s.AddSingleton<FencingStateStore>(p => (FencingStateStore)p.GetRequiredService<IUploadStateStore>());
            });

    private static async Task<UploadRecord> StateAsync(UploadTestHost host, string fileId)
        => (await host.Services.GetRequiredService<IUploadStateStore>().GetAsync(UploadKeys.Create("anonymous:anonymous", fileId), default))!;
}

/// <summary>An in-process lock provider that grants leases: growing tokens, a revocation the test controls, handover requests recorded.</summary>
internal sealed class LeasingLockProvider(InProcessUploadLockProvider inner) : IUploadLockProvider, IUploadLockHandover
{
    private readonly List<Lease> _held = [];
    private long _tokens;

    public long LastToken => Interlocked.Read(ref _tokens);

    public int Held
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
    }

    public List<string> HandoverRequests { get; } = [];

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var handle = await inner.TryAcquireAsync(key, timeout, cancellationToken);
        if (handle is null)
        {
            return null;
        }

        var lease = new Lease(this, handle, Interlocked.Increment(ref _tokens));
        lock (_held)
        {
            _held.Add(lease);
        }

        return lease;
    }

    public ValueTask RequestHandoverAsync(string key, CancellationToken cancellationToken)
    {
        lock (HandoverRequests)
        {
            HandoverRequests.Add(key);
        }

        return ValueTask.CompletedTask;
    }

    public void RevokeAll()
    {
        lock (_held)
        {
            foreach (var lease in _held)
            {
                lease.Revocation.Cancel();
            }
        }
    }

    private sealed class Lease(LeasingLockProvider owner, IAsyncDisposable handle, long token) : IUploadLease
    {
        public CancellationTokenSource Revocation { get; } = new();

        public long FencingToken => token;

        public CancellationToken Revoked => Revocation.Token;

        public async ValueTask DisposeAsync()
        {
            lock (owner._held)
            {
                owner._held.Remove(this);
            }

            await handle.DisposeAsync();
            Revocation.Dispose();
        }
    }
}

/// <summary>The filesystem state store with a switch that makes it refuse saves as a fencing store refuses a stale lease's.</summary>
internal sealed class FencingStateStore(FileSystemUploadStateStore inner) : IUploadStateStore
{
    public volatile bool RefuseEverySave;

    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
        => RefuseEverySave ? ValueTask.FromException(new UploadLeaseLostException()) : inner.SaveAsync(record, cancellationToken);

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
        => RefuseEverySave ? ValueTask.FromException<UploadRecord?>(new UploadLeaseLostException()) : inner.ClaimAsync(key, fencingToken, cancellationToken);

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken) => inner.DeleteAsync(key, fencingToken, cancellationToken);

    public IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.GetExpiredAsync(now, cancellationToken);
}
