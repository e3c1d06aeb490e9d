using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.PostgreSql.Tests.Storage;

/// <summary>The database going down (a server of its own, killed) and coming back.</summary>
[Collection(PostgresCollectionDefinition.Name)]
public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task DatabaseDown_CallsThrowAndTheHolderIsRevoked_ThenEverythingWorksAfterRestart()
    {
        await using var server = await PostgresServer.StartAsync();
        var options = new PostgreSqlStoreOptions
        {
            ConnectionString = await server.CreateDatabaseAsync(),
            LeaseDuration = TimeSpan.FromSeconds(1.5),
            LockPollInterval = TimeSpan.FromMilliseconds(50),
        };
        await using var context = await PostgresFixture.MigratedContextAsync(options);
        await using var locks = new PostgreSqlUploadLockProvider(context, TimeProvider.System, NullLogger<PostgreSqlUploadLockProvider>.Instance);
        var state = new PostgreSqlUploadStateStore(context);
        var key = StoreConformance.NewKey();
        var lease = Assert.IsAssignableFrom<IUploadLease>(await locks.TryAcquireAsync(key, TimeSpan.Zero, CancellationToken.None));
        var record = StoreConformance.NewRecord(key) with { Offset = 4096, FencingToken = lease.FencingToken };
        await state.SaveAsync(record, CancellationToken.None);

        await server.StopAsync();

        // Every call fails with the backend's exception (the engine answers 503), never as a lost lease or a cancellation.
        await FluentActions.Awaiting(async () => await state.GetAsync(key, CancellationToken.None)).Should().ThrowAsync<NpgsqlException>();
        await FluentActions.Awaiting(async () => await state.SaveAsync(record with { Offset = 8192 }, CancellationToken.None)).Should().ThrowAsync<NpgsqlException>();
        await FluentActions.Awaiting(async () => await locks.TryAcquireAsync(StoreConformance.NewKey(), TimeSpan.Zero, CancellationToken.None)).Should().ThrowAsync<NpgsqlException>();
        await FluentActions.Awaiting(async () => await locks.RequestHandoverAsync(key, CancellationToken.None)).Should().ThrowAsync<NpgsqlException>();

        // The holder cannot renew: it is told to stop writing before its lease could pass to someone else.
        var revoked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lease.Revoked.Register(() => revoked.TrySetResult()))
        {
            (await Task.WhenAny(revoked.Task, Task.Delay(options.LeaseDuration + TimeSpan.FromSeconds(5)))).Should().BeSameAs(revoked.Task);
        }

        await lease.DisposeAsync(); // the release fails quietly; the row runs out by itself

        await server.RestartAsync();
        var loaded = await EventuallyAsync(() => state.GetAsync(key, CancellationToken.None).AsTask());
        loaded!.Offset.Should().Be(4096, "what was saved before the outage survives it");
        var next = Assert.IsAssignableFrom<IUploadLease>(await EventuallyAsync(() => locks.TryAcquireAsync(key, options.LeaseDuration * 3, CancellationToken.None).AsTask()));
        next.FencingToken.Should().BeGreaterThan(lease.FencingToken);
        await state.SaveAsync(record with { Offset = 8192, FencingToken = next.FencingToken }, CancellationToken.None);
        (await state.GetAsync(key, CancellationToken.None))!.Offset.Should().Be(8192);
        await next.DisposeAsync();
    }

    [Fact]
    public async Task DatabaseDown_RequestsGet503_NotA500_AndSucceedAfterRestart()
    {
        await using var server = await PostgresServer.StartAsync();
        var connectionString = await server.CreateDatabaseAsync();
        await using var app = TestHost.Build(s => s.AddResumableUploads().AddInMemoryStores().AddPostgreSqlStores(o =>
        {
            o.ConnectionString = connectionString;
            o.CreateSchemaOnStartup = true;
        }), configurePipeline: a => a.UseResumableUploads());
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = TestHost.BaseAddress(app) };

        await server.StopAsync();
        using (var status = await StatusAsync(client))
        {
            status.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        }

        using (var upload = await UploadAsync(client))
        {
            upload.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        }

        await server.RestartAsync();
        using var afterRestart = await EventuallyAsync(async () =>
        {
            var response = await UploadAsync(client);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                response.Dispose();
                throw new NpgsqlException("still unavailable");
            }

            return response;
        });
        afterRestart.StatusCode.Should().Be(HttpStatusCode.OK);
        using var final = await StatusAsync(client);
        (await final.Content.ReadAsStringAsync()).Should().Be("3");
    }

    private static async Task<HttpResponseMessage> StatusAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", "outage.bin-3-1767225600000");
        return await client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ByteArrayContent([1, 2, 3]) };
        request.Headers.Add("X-File-Id", "outage.bin-3-1767225600000");
        request.Headers.Add("X-Start-Byte", "0");
        request.Headers.Add("X-File-Size", "3");
        return await client.SendAsync(request);
    }

    /// <summary>Retries while pooled connections to the killed server are found broken, for at most 20 s.</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> attempt)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                return await attempt();
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }
}
