using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Simulation.Tests.Scheduling;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Simulation.Tests.Cluster;

/// <summary>
/// Several hosts of the middleware in this process, each on its own loopback Kestrel port, sharing one set of real
/// stores (chosen by a <see cref="StoreCombination"/>). Every host wraps its stores in the gated decorators of one
/// <see cref="StoreGate"/> and reports completions to one <see cref="CompletionLedger"/>. A host can be restarted
/// (stopped, then a new one started on a new port) at any step.
/// </summary>
internal sealed class SimulationCluster : IAsyncDisposable
{
    private readonly StoreCombination _stores;
    private readonly WebApplication?[] _apps;
    private readonly GatedLockProvider?[] _locks;
    private readonly HttpClient?[] _clients;

    private SimulationCluster(StoreCombination stores, int hosts, StoreGate gate, CompletionLedger completions)
    {
        _stores = stores;
        _apps = new WebApplication?[hosts];
        _locks = new GatedLockProvider?[hosts];
        _clients = new HttpClient?[hosts];
        Gate = gate;
        Completions = completions;
    }

    public StoreGate Gate { get; }

    public CompletionLedger Completions { get; }

    public int HostCount => _apps.Length;

    public bool GrantsLeases => _locks.Any(l => l?.GrantsLeases == true);

    public static async Task<SimulationCluster> StartAsync(StoreCombination stores, int hosts, StoreGate gate, CompletionLedger completions)
    {
        var cluster = new SimulationCluster(stores, hosts, gate, completions);
        try
        {
            for (var i = 0; i < hosts; i++)
            {
                await cluster.StartHostAsync(i); // one after the other: the first one creates schemas and containers
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>The HTTP client of host <paramref name="index"/> (a new connection pool per host incarnation).</summary>
    public HttpClient Client(int index) => _clients[index] ?? throw new InvalidOperationException($"Host {index} is not running.");

    public GatedLockProvider Locks(int index) => _locks[index] ?? throw new InvalidOperationException($"Host {index} is not running.");

    /// <summary>The data store as host <paramref name="index"/> sees it (through its gate), for the final comparison.</summary>
    public IUploadDataStore DataStore(int index) => _apps[index]!.Services.GetRequiredService<IUploadDataStore>();

    /// <summary>Stops host <paramref name="index"/> (requests still running are cut) and starts a new one in its place.</summary>
    public async Task RestartHostAsync(int index)
    {
        await StopHostAsync(index);
        await StartHostAsync(index);
    }

    private async Task StartHostAsync(int index)
    {
        var builder = LoopbackHost.CreateBuilder();
        builder.Services.AddSingleton(Completions);
        var uploads = builder.Services.AddResumableUploads(o =>
        {
            o.LockWaitTimeout = TimeSpan.FromMilliseconds(500);
            o.ProgressPublishInterval = 4096;
            o.StalledWriterTimeout = TimeSpan.FromSeconds(2);
            o.EnableDownload = true;
            o.MaxUploadSize = 16L << 20;
        }).AddEvents<CompletionRecorder>();
        _stores.Configure(uploads);

        GatedStores.Decorate<IUploadStateStore>(builder.Services, inner => new GatedStateStore(inner, Gate, index));
        GatedStores.Decorate<IUploadDataStore>(builder.Services, inner => new GatedDataStore(inner, Gate, index));
        GatedLockProvider? gatedLocks = null;
        GatedStores.Decorate<IUploadLockProvider>(builder.Services, inner => gatedLocks = inner is IUploadLockHandover
            ? new GatedHandoverLockProvider(inner, Gate, index)
            : new GatedLockProvider(inner, Gate, index));

        var app = builder.Build();
        app.UseResumableUploads();
        await app.StartAsync();
        _ = app.Services.GetRequiredService<IUploadLockProvider>();
        _apps[index] = app;
        _locks[index] = gatedLocks;
        _clients[index] = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = LoopbackHost.BaseAddress(app),
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    private async Task StopHostAsync(int index)
    {
        _clients[index]?.Dispose();
        _clients[index] = null;
        if (_apps[index] is { } app)
        {
            _apps[index] = null;
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await app.StopAsync(stopping.Token);
            }
            catch (OperationCanceledException)
            {
                // A request frozen in the gate does not stop a restart; it is cut, as by a killed process.
            }

            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Gate.Disarm();
        Gate.Release();
        for (var i = 0; i < _apps.Length; i++)
        {
            await StopHostAsync(i);
        }
    }
}

/// <summary>Every <c>OnCompleted</c> of every host, per upload key, with the SHA-256 of the bytes the handler could read.</summary>
internal sealed class CompletionLedger
{
    private readonly ConcurrentDictionary<string, Completion> _byKey = new(StringComparer.Ordinal);

    public sealed class Completion
    {
        public required string Key { get; init; }

        public required string FileId { get; init; }

        public int Count;

        public string? FirstSha256 { get; set; }

        public long Length { get; set; }
    }

    public Completion Record(string key, string fileId) => _byKey.GetOrAdd(key, k => new Completion { Key = k, FileId = fileId });

    public Completion? ForFileId(Func<string, bool> matches) => _byKey.Values.FirstOrDefault(c => matches(c.FileId));

    public IEnumerable<Completion> All => _byKey.Values;
}

/// <summary>The events handler every host registers: counts completions and hashes the finished bytes as the handler sees them.</summary>
internal sealed class CompletionRecorder(CompletionLedger ledger) : ResumableUploadEvents
{
    public override async ValueTask OnCompletedAsync(UploadCompletedContext context)
    {
        var completion = ledger.Record(context.Upload.Key, context.Upload.FileId);
        if (Interlocked.Increment(ref completion.Count) == 1)
        {
            completion.Length = context.Upload.Length ?? context.Upload.Offset;
            try
            {
                await using var stream = await context.OpenReadAsync(context.CancellationToken);
                completion.FirstSha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, context.CancellationToken));
            }
            catch (Exception ex)
            {
                completion.FirstSha256 = "unreadable: " + ex.GetType().Name;
            }
        }
    }
}
