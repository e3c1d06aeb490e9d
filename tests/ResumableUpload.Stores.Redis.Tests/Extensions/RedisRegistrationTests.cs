using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.Redis.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis.Tests.Extensions;

[Collection(RedisServerGroup.Name)]
public sealed class RedisRegistrationTests(RedisFixture redis)
{
    [Fact]
    public async Task AddRedisStores_WithoutAConnectionString_FailsAtStartUp_NamingTheKey()
    {
        var start = async () => await (await RedisTestHost.StartAsync([], uploads => uploads.AddInMemoryStores().AddRedisStores())).DisposeAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("ResumableUploads:Redis:Configuration is required");
    }

    [Theory]
    [InlineData("ResumableUploads:Redis:LeaseDuration", "00:00:00.500", "LeaseDuration must be at least 00:00:01")]
    [InlineData("ResumableUploads:Redis:KeyPrefix", "", "KeyPrefix must not be empty")]
    [InlineData("ResumableUploads:Redis:LockPollInterval", "00:01:00", "LockPollInterval must be between")]
    [InlineData("ResumableUploads:Redis:Configuration", "127.0.0.1:1,unknownSetting=1", "is not a valid StackExchange.Redis connection string")]
    public async Task AddRedisStores_WithAnInvalidSetting_FailsAtStartUp_WithAMessageThatNamesIt(string key, string value, string message)
    {
        var configuration = new Dictionary<string, string?> { ["ResumableUploads:Redis:Configuration"] = redis.Server.ConnectionString, [key] = value };
        var start = async () => await (await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStores())).DisposeAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain(message);
    }

    [Fact]
    public async Task AddRedisStores_BindsTheConfigurationSection_AndCodeConfigurationWins()
    {
        var prefix = RedisTestStores.NewPrefix();
        var configuration = new Dictionary<string, string?>
        {
            ["ResumableUploads:Redis:Configuration"] = redis.Server.ConnectionString,
            ["ResumableUploads:Redis:KeyPrefix"] = "from-configuration:",
            ["ResumableUploads:Redis:LeaseDuration"] = "00:00:12",
            ["ResumableUploads:Redis:LockPollInterval"] = "00:00:00.250",
        };
        await using var host = await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStores(o => o.KeyPrefix = prefix));

        var options = host.Services.GetRequiredService<IOptions<RedisUploadStoreOptions>>().Value;
        options.Configuration.Should().Be(redis.Server.ConnectionString);
        options.KeyPrefix.Should().Be(prefix);
        options.LeaseDuration.Should().Be(TimeSpan.FromSeconds(12));
        options.LockPollInterval.Should().Be(TimeSpan.FromMilliseconds(250));

        var record = StoreConformance.NewRecord();
        await host.Services.GetRequiredService<IUploadStateStore>().SaveAsync(record, CancellationToken.None);
        var db = await host.Services.GetRequiredService<RedisConnection>().GetDatabaseAsync(CancellationToken.None);
        (await db.KeyExistsAsync(prefix + "upload:" + record.Key)).Should().BeTrue();
    }

    [Fact]
    public async Task AddRedisStateStore_And_AddRedisLockProvider_EachRegisterTheirHalf_SharingOneConnectionAndHealthCheck()
    {
        var configuration = new Dictionary<string, string?> { ["ResumableUploads:Redis:Configuration"] = redis.Server.ConnectionString };

        await using (var stateOnly = await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStateStore()))
        {
            stateOnly.Services.GetRequiredService<IUploadStateStore>().Should().BeOfType<RedisUploadStateStore>();
            stateOnly.Services.GetRequiredService<IUploadLockProvider>().Should().NotBeOfType<RedisUploadLockProvider>();
            stateOnly.Services.GetRequiredService<IUploadDataStore>().GetType().Name.Should().Be("InMemoryUploadDataStore");
        }

        await using var both = await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStateStore().AddRedisLockProvider());
        both.Services.GetRequiredService<IUploadStateStore>().Should().BeOfType<RedisUploadStateStore>();
        both.Services.GetRequiredService<IUploadLockProvider>().Should().BeOfType<RedisUploadLockProvider>();
        both.Services.GetServices<RedisConnection>().Should().ContainSingle();
        var report = await both.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        report.Entries.Keys.Should().ContainSingle(name => name == "resumable-uploads-Redis");
    }

    [Fact]
    public async Task AddRedisStores_WithTheHostsConnection_NeedsNoConnectionString_AndLeavesTheConnectionOpen()
    {
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.Server.ConnectionString);
        var prefix = RedisTestStores.NewPrefix();

        await using (var host = await RedisTestHost.StartAsync([], uploads => uploads.AddInMemoryStores().AddRedisStores(_ => multiplexer, o => o.KeyPrefix = prefix)))
        {
            var record = StoreConformance.NewRecord();
            await host.Services.GetRequiredService<IUploadStateStore>().SaveAsync(record, CancellationToken.None);
            (await multiplexer.GetDatabase().KeyExistsAsync(prefix + "upload:" + record.Key)).Should().BeTrue();
        }

        multiplexer.IsConnected.Should().BeTrue("the host's connection is the host's to dispose");
        await multiplexer.GetDatabase().PingAsync();
    }

    [Fact]
    public async Task HealthCheck_AgainstTheRunningServer_IsHealthy()
    {
        var configuration = new Dictionary<string, string?> { ["ResumableUploads:Redis:Configuration"] = redis.Server.ConnectionString };
        await using var host = await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStores());

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries["resumable-uploads-Redis"].Status.Should().Be(HealthStatus.Healthy, report.Entries["resumable-uploads-Redis"].Description);
    }

    [Fact]
    public async Task HealthCheck_AgainstAClosedPort_IsUnhealthy()
    {
        var port = ServerProcess.FreePort();
        var configuration = new Dictionary<string, string?>
        {
            ["ResumableUploads:Redis:Configuration"] = $"127.0.0.1:{port},connectTimeout=500,syncTimeout=1000,asyncTimeout=1000",
        };
        await using var host = await RedisTestHost.StartAsync(configuration, uploads => uploads.AddInMemoryStores().AddRedisStores());

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["resumable-uploads-Redis"];
        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().StartWith("Redis did not answer PING");
        entry.Exception.Should().NotBeNull();
    }
}
