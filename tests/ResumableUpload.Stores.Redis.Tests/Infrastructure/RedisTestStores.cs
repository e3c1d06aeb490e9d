using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ResumableUpload.Testing.Shared.Backends;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis.Tests.Infrastructure;

/// <summary>
/// Builds the Redis stores the way the container does, each on a connection of its own (as separate app instances
/// would have), under one key prefix per test; disposes what it built.
/// </summary>
internal sealed class RedisTestStores : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _created = [];

    public RedisTestStores(RedisServer server, TimeSpan? leaseDuration = null, string? prefix = null)
    {
        Server = server;
        Options = new RedisUploadStoreOptions
        {
            Configuration = server.ConnectionString,
            KeyPrefix = prefix ?? NewPrefix(),
            LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(1.5),
            LockPollInterval = TimeSpan.FromMilliseconds(50),
        };
    }

    public RedisServer Server { get; }

    public RedisUploadStoreOptions Options { get; }

    public string Prefix => Options.KeyPrefix;

    /// <summary>A key prefix no other test uses.</summary>
    public static string NewPrefix() => $"test-{Guid.NewGuid():N}:";

    public RedisConnection Connection()
    {
        var connection = new RedisConnection(Options.Configuration!);
        _created.Add(connection);
        return connection;
    }

    public RedisUploadStateStore StateStore(RedisConnection? connection = null)
        => new(connection ?? Connection(), Microsoft.Extensions.Options.Options.Create(Options), NullLogger<RedisUploadStateStore>.Instance);

    public RedisUploadLockProvider LockProvider(RedisConnection? connection = null)
    {
        var provider = new RedisUploadLockProvider(connection ?? Connection(), Microsoft.Extensions.Options.Options.Create(Options), NullLogger<RedisUploadLockProvider>.Instance);
        _created.Insert(0, provider); // disposed before the connections
        return provider;
    }

    /// <summary>A plain client on the same server, to look at (or tamper with) the keys directly.</summary>
    public async Task<IDatabase> InspectAsync() => await Connection().GetDatabaseAsync(CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        foreach (var created in _created)
        {
            await created.DisposeAsync();
        }
    }
}
