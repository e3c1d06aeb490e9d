using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;
using ResumableUpload.Testing.Shared;

namespace ResumableUpload.Stores.S3.Tests;

// A real Kestrel host with AddResumableUploads().AddS3DataStore(), configured the way an app would be.
[Collection(SwiftServerGroup.Name)]
public sealed class S3HostTests
{
    private readonly SwiftFixture _swift;

    public S3HostTests(SwiftFixture swift) => _swift = swift;

    [Fact]
    public async Task XFileIdUpload_InTwoParts_ThroughKestrel_IsStoredInTheBucket()
    {
        var bucket = await _swift.NewBucketAsync();
        await using var app = await StartAsync(_swift.Server.StoreConfiguration(bucket));
        using var http = new HttpClient { BaseAddress = new Uri(Address(app)) };
        var bytes = StoreConformance.Bytes((7 * 1024 * 1024) + 123, seed: 1);
        const string FileId = "report.pdf-7340155-1767225600000";
        var split = (5 * 1024 * 1024) + 1000;

        (await StatusAsync(http, FileId)).Should().Be(0);
        using (var first = await PostAsync(http, FileId, bytes, 0, split))
        {
            first.StatusCode.Should().Be(HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
        }

        (await StatusAsync(http, FileId)).Should().Be(split);
        using (var second = await PostAsync(http, FileId, bytes, split, bytes.Length))
        {
            second.StatusCode.Should().Be(HttpStatusCode.OK, await second.Content.ReadAsStringAsync());
        }

        (await StatusAsync(http, FileId)).Should().Be(bytes.Length);
        var downloaded = await http.GetByteArrayAsync(new Uri($"download?fileId={Uri.EscapeDataString(FileId)}", UriKind.Relative));
        downloaded.Should().Equal(bytes);

        using var range = new HttpRequestMessage(HttpMethod.Get, $"download?fileId={Uri.EscapeDataString(FileId)}");
        range.Headers.Range = new RangeHeaderValue(6_000_000, 6_000_099);
        using var partial = await http.SendAsync(range);
        partial.StatusCode.Should().Be(HttpStatusCode.PartialContent);
        (await partial.Content.ReadAsByteArrayAsync()).Should().Equal(bytes.AsSpan(6_000_000, 100).ToArray());

        // The bytes are really in the bucket: the one finished object under the prefix.
        using var raw = _swift.RawClient(bucket);
        var listing = await raw.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket, Prefix = "uploads/" });
        listing.S3Objects.Should().ContainSingle().Which.Size.Should().Be(bytes.Length);
        app.Services.GetRequiredService<IUploadDataStore>().Should().BeOfType<S3UploadDataStore>();
    }

    [Fact]
    public async Task CompletionSaveFailure_ThenResume_RecordsTheCompletion_KeepsTheObject_AndTakesNoByteAgain()
    {
        // Issue #11, point 3: the multipart upload was completed, the completing save failed. The client resumes from
        // the last published offset; the finished object must not be deleted and the file not sent again.
        var bucket = await _swift.NewBucketAsync();
        FailFirstCompletionSaveStateStore? state = null;
        CountingDataStore? data = null;
        await using var app = await StartAsync(_swift.Server.StoreConfiguration(bucket), decorate: services =>
        {
            services.Decorate<IUploadStateStore>(inner => state = new FailFirstCompletionSaveStateStore(inner));
            services.Decorate<IUploadDataStore>(inner => data = new CountingDataStore(inner));
        });
        using var http = new HttpClient { BaseAddress = new Uri(Address(app)) };
        var bytes = StoreConformance.Bytes((7 * 1024 * 1024) + 321, seed: 3);
        const string FileId = "video.mp4-7340353-1767225600000";

        using (var whole = await PostAsync(http, FileId, bytes, 0, bytes.Length))
        {
            whole.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await whole.Content.ReadAsStringAsync());
        }

        state!.Failed.Should().BeTrue();
        var published = await StatusAsync(http, FileId);
        published.Should().BeLessThan(bytes.Length, "the completion was not recorded");
        var writtenBefore = data!.Written;

        // The client resumes as it would: from the published offset, with the rest of the file.
        using (var resumed = await PostAsync(http, FileId, bytes, (int)published, bytes.Length))
        {
            resumed.IsSuccessStatusCode.Should().BeFalse("no byte of this body was taken");
            resumed.StatusCode.Should().Be(HttpStatusCode.Conflict, await resumed.Content.ReadAsStringAsync());
        }

        (await StatusAsync(http, FileId)).Should().Be(bytes.Length, "re-opening the sealed bytes recorded the completion");
        data.Written.Should().Be(writtenBefore, "nothing was written again");
        var downloaded = await http.GetByteArrayAsync(new Uri($"download?fileId={Uri.EscapeDataString(FileId)}", UriKind.Relative));
        System.Security.Cryptography.SHA256.HashData(downloaded).Should().Equal(System.Security.Cryptography.SHA256.HashData(bytes));
        using var raw = _swift.RawClient(bucket);
        var listing = await raw.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket, Prefix = "uploads/" });
        listing.S3Objects.Where(o => !o.Key.Contains('/', StringComparison.Ordinal) || o.Key.Count(c => c == '/') == 1).Should().ContainSingle().Which.Size.Should().Be(bytes.Length);
    }

    [Fact]
    public async Task XFileIdUpload_WhileTheS3ServerIsDown_Answers503_NotA500()
    {
        var configuration = new Dictionary<string, string?>(_swift.Server.StoreConfiguration("nowhere"))
        {
            ["ResumableUploads:S3:ServiceUrl"] = $"http://127.0.0.1:{ServerProcess.FreePort()}",
        };
        await using var app = await StartAsync(configuration);
        using var http = new HttpClient { BaseAddress = new Uri(Address(app)) };

        using var response = await PostAsync(http, "down.bin-1000-1767225600000", StoreConformance.Bytes(1000, seed: 2), 0, 1000);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StartUp_WithoutBucketName_FailsWithAMessageNamingTheKey()
    {
        var configuration = new Dictionary<string, string?>(_swift.Server.StoreConfiguration("unused"))
        {
            ["ResumableUploads:S3:BucketName"] = null,
        };

        var start = async () => await StartAsync(configuration);

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("ResumableUploads:S3:BucketName is required");
    }

    [Fact]
    public async Task StartUp_WithAPartSizeBelowTheS3Minimum_FailsWithAMessageNamingTheKey()
    {
        var bucket = await _swift.NewBucketAsync();
        var start = async () => await StartAsync(_swift.Server.StoreConfiguration(bucket), o => o.MinimumPartSize = 1024);

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("ResumableUploads:S3:MinimumPartSize");
    }

    [Fact]
    public async Task HealthCheck_AgainstTheServer_IsHealthy()
    {
        var bucket = await _swift.NewBucketAsync();
        await using var app = await StartAsync(_swift.Server.StoreConfiguration(bucket));

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Should().ContainKey(S3UploadBuilderExtensions.HealthCheckName);
        report.Entries[S3UploadBuilderExtensions.HealthCheckName].Status.Should().Be(HealthStatus.Healthy, report.Entries[S3UploadBuilderExtensions.HealthCheckName].Description);
    }

    [Fact]
    public async Task HealthCheck_AgainstAClosedPort_IsUnhealthy()
    {
        var configuration = new Dictionary<string, string?>(_swift.Server.StoreConfiguration("nowhere"))
        {
            ["ResumableUploads:S3:ServiceUrl"] = $"http://127.0.0.1:{ServerProcess.FreePort()}",
        };
        await using var app = await StartAsync(configuration);

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries[S3UploadBuilderExtensions.HealthCheckName].Status.Should().Be(HealthStatus.Unhealthy);
    }

    [Fact]
    public async Task HealthCheck_WithCreateBucketIfMissing_CreatesTheBucket_AndIsHealthy()
    {
        var bucket = SwiftS3Server.NewBucketName();
        await using var app = await StartAsync(_swift.Server.StoreConfiguration(bucket), o => o.CreateBucketIfMissing = true);

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries[S3UploadBuilderExtensions.HealthCheckName].Status.Should().Be(HealthStatus.Healthy, report.Entries[S3UploadBuilderExtensions.HealthCheckName].Description);
        using var raw = _swift.RawClient(bucket);
        var listing = await raw.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket });
        listing.HttpStatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task AddS3DataStore_WithAClientFactory_UsesThatClient()
    {
        var bucket = await _swift.NewBucketAsync();
        var created = 0;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddResumableUploads().AddInMemoryStores().AddS3DataStore(
            _ =>
            {
                created++;
                return _swift.RawClient(bucket);
            },
            o => o.BucketName = bucket);
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<IUploadDataStore>();
        var key = StoreConformance.NewKey();
        await using (var writer = await store.OpenWriterAsync(key, 0, 3, 1, CancellationToken.None))
        {
            await writer.WriteAsync(new byte[] { 1, 2, 3 }, CancellationToken.None);
            await writer.FlushAsync(false, CancellationToken.None);
        }

        await store.CompleteAsync(key, 3, 1, CancellationToken.None);
        (await StoreConformance.ReadAllAsync(await store.OpenReadAsync(key, CancellationToken.None))).Should().Equal(1, 2, 3);
        created.Should().Be(1);
    }

    private static async Task<WebApplication> StartAsync(IEnumerable<KeyValuePair<string, string?>> configuration, Action<S3UploadStoreOptions>? configure = null, Action<IServiceCollection>? decorate = null)
    {
        var builder = LoopbackHost.CreateBuilder(configuration);
        var uploads = builder.Services.AddResumableUploads(o => o.EnableDownload = true).AddInMemoryStores();
        if (configure is null)
        {
            uploads.AddS3DataStore();
        }
        else
        {
            uploads.AddS3DataStore(configure);
        }

        decorate?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseResumableUploads();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    private static string Address(WebApplication app) => LoopbackHost.BaseAddress(app).ToString();

    private static async Task<long> StatusAsync(HttpClient http, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", fileId);
        using var response = await http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return long.Parse(await response.Content.ReadAsStringAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string fileId, byte[] bytes, int from, int to)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ByteArrayContent(bytes, from, to - from) };
        request.Headers.Add("X-File-Id", fileId);
        request.Headers.Add("X-Start-Byte", from.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-File-Size", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return http.SendAsync(request);
    }
}
