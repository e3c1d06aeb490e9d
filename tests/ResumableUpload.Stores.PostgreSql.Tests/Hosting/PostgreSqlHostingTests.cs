using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.PostgreSql.Tests.Hosting;

/// <summary>The stores as a host uses them: registration, configuration, validation, health, an upload end to end.</summary>
[Collection(PostgresCollectionDefinition.Name)]
public sealed class PostgreSqlHostingTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Upload_InTwoPartsThroughKestrel_IsStoredAndItsRecordKeptInPostgreSql()
    {
        var schema = PostgresFixture.NewSchemaName();
        await using var app = TestHost.Build(
            services => services.AddResumableUploads(o => o.EnableDownload = true).AddInMemoryStores().AddPostgreSqlStores(),
            configuration: new Dictionary<string, string?>
            {
                // As a host would set them in appsettings.json or on the command line.
                ["ResumableUploads:PostgreSql:ConnectionString"] = postgres.ConnectionString,
                ["ResumableUploads:PostgreSql:Schema"] = schema,
                ["ResumableUploads:PostgreSql:CreateSchemaOnStartup"] = "true",
                ["ResumableUploads:PostgreSql:LeaseDuration"] = "00:00:05",
            },
            configurePipeline: a => a.UseResumableUploads());
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = TestHost.BaseAddress(app) };
        app.Services.GetRequiredService<IUploadStateStore>().Should().BeOfType<PostgreSqlUploadStateStore>();
        app.Services.GetRequiredService<IUploadLockProvider>().Should().BeOfType<PostgreSqlUploadLockProvider>();

        var bytes = StoreConformance.Bytes(300_000, seed: 7);
        const string FileId = "report.pdf-300000-1767225600000";
        (await PostAsync(client, FileId, bytes, 0, 120_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await StatusAsync(client, FileId)).Should().Be("120000");
        (await PostAsync(client, FileId, bytes, 120_000, bytes.Length - 120_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await StatusAsync(client, FileId)).Should().Be("300000");

        var downloaded = await client.GetByteArrayAsync(new Uri("download?fileId=" + Uri.EscapeDataString(FileId), UriKind.Relative));
        downloaded.Should().Equal(bytes);
        var row = await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT file_id || '|' || \"offset\" || '|' || is_completed || '|' || (fencing_token > 0) FROM {schema}.resumable_upload_records");
        row.Trim().Should().Be($"{FileId}|300000|true|true");
        (await postgres.Server.PsqlAsync("resumable_upload_tests", $"SELECT count(*) FROM {schema}.resumable_upload_leases")).Trim().Should().Be("0", "every lease was released");
    }

    [Fact]
    public async Task Upload_StartedOnOneInstance_IsResumedAndReadOnAnother()
    {
        // Two app instances share the PostgreSQL state and locks and (standing in for object storage) one directory.
        var schema = PostgresFixture.NewSchemaName();
        var shared = Path.Combine(Path.GetTempPath(), "ru-pg-tests", Guid.NewGuid().ToString("N"));
        var configuration = new Dictionary<string, string?>
        {
            ["ResumableUploads:PostgreSql:ConnectionString"] = postgres.ConnectionString,
            ["ResumableUploads:PostgreSql:Schema"] = schema,
            ["ResumableUploads:PostgreSql:CreateSchemaOnStartup"] = "true",
        };
        try
        {
            await using var first = TestHost.Build(s => s.AddResumableUploads(o => o.EnableDownload = true).AddFileSystemStores(shared).AddPostgreSqlStores(), configuration, a => a.UseResumableUploads());
            await using var second = TestHost.Build(s => s.AddResumableUploads(o => o.EnableDownload = true).AddFileSystemStores(shared).AddPostgreSqlStores(), configuration, a => a.UseResumableUploads());
            await Task.WhenAll(first.StartAsync(), second.StartAsync()); // both run the migration at once
            using var clientA = new HttpClient { BaseAddress = TestHost.BaseAddress(first) };
            using var clientB = new HttpClient { BaseAddress = TestHost.BaseAddress(second) };
            var bytes = StoreConformance.Bytes(200_000, seed: 11);
            const string FileId = "video.mp4-200000-1767225600000";

            (await PostAsync(clientA, FileId, bytes, 0, 64_000)).StatusCode.Should().Be(HttpStatusCode.OK);
            (await StatusAsync(clientB, FileId)).Should().Be("64000");
            (await PostAsync(clientB, FileId, bytes, 64_000, bytes.Length - 64_000)).StatusCode.Should().Be(HttpStatusCode.OK);
            (await StatusAsync(clientA, FileId)).Should().Be("200000");

            (await clientA.GetByteArrayAsync(new Uri("download?fileId=" + Uri.EscapeDataString(FileId), UriKind.Relative))).Should().Equal(bytes);
        }
        finally
        {
            if (Directory.Exists(shared))
            {
                Directory.Delete(shared, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Startup_WithoutAConnectionString_FailsWithAMessageNamingTheKey()
    {
        await using var app = TestHost.Build(services => services.AddResumableUploads().AddInMemoryStores().AddPostgreSqlStores());

        var start = async () => await app.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("ResumableUploads:PostgreSql:ConnectionString is required");
    }

    [Fact]
    public async Task Startup_WithAnUnsafeSchemaName_FailsBeforeAnySqlIsSent()
    {
        await using var app = TestHost.Build(services => services.AddResumableUploads().AddInMemoryStores()
            .AddPostgreSqlStateStore(o =>
            {
                o.ConnectionString = postgres.ConnectionString;
                o.Schema = "public\"; DROP TABLE x; --";
                o.LeaseDuration = TimeSpan.FromMilliseconds(10);
            }));

        var start = async () => await app.StartAsync();

        var failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Message.Should().Contain("ResumableUploads:PostgreSql:Schema").And.Contain("ResumableUploads:PostgreSql:LeaseDuration");
    }

    [Fact]
    public async Task Options_BindFromConfiguration_AndCodeRunsAfterIt()
    {
        await using var app = TestHost.Build(
            services => services.AddResumableUploads().AddPostgreSqlLockProvider(o => o.LockPollInterval = TimeSpan.FromMilliseconds(20)),
            configuration: new Dictionary<string, string?>
            {
                ["ResumableUploads:PostgreSql:ConnectionString"] = "Host=db.example;Database=app;Username=app",
                ["ResumableUploads:PostgreSql:Schema"] = "uploads",
                ["ResumableUploads:PostgreSql:LeasesTable"] = "upload_locks",
                ["ResumableUploads:PostgreSql:LeaseDuration"] = "00:00:12",
                ["ResumableUploads:PostgreSql:LockPollInterval"] = "00:00:01",
            });

        var options = app.Services.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value;

        options.ConnectionString.Should().Be("Host=db.example;Database=app;Username=app");
        options.Schema.Should().Be("uploads");
        options.LeasesTable.Should().Be("upload_locks");
        options.RecordsTable.Should().Be("resumable_upload_records");
        options.LeaseDuration.Should().Be(TimeSpan.FromSeconds(12));
        options.LockPollInterval.Should().Be(TimeSpan.FromMilliseconds(20));
        options.CreateSchemaOnStartup.Should().BeFalse();
        app.Services.GetRequiredService<IUploadStateStore>().Should().NotBeOfType<PostgreSqlUploadStateStore>("only the lock provider was chosen");
    }

    [Fact]
    public async Task HealthCheck_IsHealthyAgainstTheServer_AndUnhealthyWhenTablesAreMissingOrThePortIsClosed()
    {
        var migrated = postgres.NewOptions();
        (await CheckAsync(migrated.ConnectionString!, migrated.Schema, createSchema: true)).Status.Should().Be(HealthStatus.Healthy);

        var missingTables = await CheckAsync(postgres.ConnectionString, PostgresFixture.NewSchemaName(), createSchema: false);
        missingTables.Status.Should().Be(HealthStatus.Unhealthy);
        missingTables.Description.Should().Contain("missing");

        var closed = await CheckAsync(PostgresServer.ClosedPortConnectionString(), "public", createSchema: false);
        closed.Status.Should().Be(HealthStatus.Unhealthy);
        closed.Exception.Should().NotBeNull();
    }

    private static async Task<HealthReportEntry> CheckAsync(string connectionString, string schema, bool createSchema)
    {
        await using var app = TestHost.Build(services => services.AddResumableUploads().AddInMemoryStores().AddPostgreSqlStores(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
            o.CreateSchemaOnStartup = createSchema;
        }));
        await app.StartAsync();
        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        await app.StopAsync();
        return report.Entries[PostgreSqlResumableUploadBuilderExtensions.HealthCheckName];
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string fileId, byte[] bytes, int start, int count)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ByteArrayContent(bytes, start, count) };
        request.Headers.Add("X-File-Id", fileId);
        request.Headers.Add("X-Start-Byte", start.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-File-Size", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.SendAsync(request);
    }

    private static async Task<string> StatusAsync(HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", fileId);
        using var response = await client.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return await response.Content.ReadAsStringAsync();
    }
}
