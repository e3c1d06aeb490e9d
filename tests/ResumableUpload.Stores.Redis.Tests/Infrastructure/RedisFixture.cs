using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.Redis.Tests.Infrastructure;

/// <summary>One real redis-server for the whole test assembly (tests keep apart by fresh keys and key prefixes).</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServer? _server;

    internal RedisServer Server => _server ?? throw new InvalidOperationException("The Redis server has not started.");

    public async Task InitializeAsync() => _server = await RedisServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisServerGroup : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis-server";
}
