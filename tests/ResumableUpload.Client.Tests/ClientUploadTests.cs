using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Client.Tests.Infrastructure;

namespace ResumableUpload.Client.Tests;

/// <summary>The .NET client against our server, each protocol: plain uploads, pause and resume, 413, retries, refusals.</summary>
public sealed class ClientUploadTests
{
    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    [InlineData(Wire.Ietf8)]
    public async Task Upload_EachProtocol_StoresTheFileIntactAndReportsProgress(Wire protocol)
    {
        await using var server = await UploadServer.StartAsync();
        const long length = (5L << 20) + 12345;
        using var store = new JsonFileUploadResumeStore(Clients.StorePath());
        var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), store);
        var progress = new Clients.ProgressLog();

        await using var content = new PatternStream(length);
        var result = await client.UploadAsync(UploadSource.FromStream(content, "five.bin", "five-" + protocol), progress);

        result.Length.Should().Be(length);
        result.StatusCode.Should().BeInRange(200, 299);
        (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(length));
        progress.Reports.Should().NotBeEmpty();
        progress.Reports[^1].BytesUploaded.Should().Be(length);
        progress.Reports[^1].Fraction.Should().Be(1);
        (await store.ListAsync()).Should().BeEmpty("a finished upload leaves no resume state behind");
    }

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    [InlineData(Wire.Ietf8)]
    public async Task Upload_CancelledMidway_ANewClientWithTheSameStoreResumesFromTheServerOffset(Wire protocol)
    {
        await using var server = await UploadServer.StartAsync();
        const long length = 6L << 20;
        var storePath = Clients.StorePath();
        await using var content = new PatternStream(length);
        var source = UploadSource.FromStream(content, "six.bin", "six-" + protocol);

        using (var pause = new CancellationTokenSource())
        using (var store = new JsonFileUploadResumeStore(storePath))
        {
            var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), store);
            var progress = new Clients.ProgressLog(p =>
            {
                if (p.BytesUploaded >= 3L << 20)
                {
                    pause.Cancel();
                }
            });
            var paused = () => client.UploadAsync(source, progress, pause.Token);
            await paused.Should().ThrowAsync<OperationCanceledException>();
            var records = await store.ListAsync();
            records.Should().ContainSingle("a paused upload keeps its resume state").Which.Length.Should().Be(length);
        }

        using (var store = new JsonFileUploadResumeStore(storePath))
        {
            var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), store);
            var progress = new Clients.ProgressLog();
            var result = await client.UploadAsync(source, progress);

            progress.Reports[0].BytesUploaded.Should().BeGreaterThanOrEqualTo(2L << 20, "the second run starts where the server stopped, not at 0");
            (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(length));
            (await store.ListAsync()).Should().BeEmpty();
        }
    }

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    [InlineData(Wire.Ietf8)]
    public async Task Upload_ProxyCapsBodiesWith413_ShrinksTheChunksAndCompletes(Wire protocol)
    {
        const long cap = 200 << 10;
        var refused = 0;
        await using var server = await UploadServer.StartAsync(async (context, next) =>
        {
            // What nginx's client_max_body_size does: a plain 413 page, not the protocol's.
            if (context.Request.ContentLength > cap)
            {
                Interlocked.Increment(ref refused);
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                context.Response.ContentType = "text/html";
                await context.Response.WriteAsync("<html><body>413 Request Entity Too Large</body></html>");
                return;
            }

            await next();
        });
        const long length = 3L << 20;
        var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), new JsonFileUploadResumeStore(Clients.StorePath()));
        await using var content = new PatternStream(length);

        var result = await client.UploadAsync(UploadSource.FromStream(content, "capped.bin", "capped-" + protocol));

        refused.Should().BeGreaterThan(0, "the first 1 MiB chunk is over the cap");
        (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(length));
    }

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    public async Task Upload_ServerAnswers503WithRetryAfter_WaitsThatLongAndRetries(Wire protocol)
    {
        var failed = 0;
        await using var server = await UploadServer.StartAsync(async (context, next) =>
        {
            if (context.Request.ContentLength > 0 && Interlocked.Increment(ref failed) == 1)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = "1";
                return;
            }

            await next();
        });
        var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), new JsonFileUploadResumeStore(Clients.StorePath()));
        await using var content = new PatternStream(100_000);
        var clock = Stopwatch.StartNew();

        var result = await client.UploadAsync(UploadSource.FromStream(content, "retry.bin", "retry-" + protocol));

        clock.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(0.95), "Retry-After: 1 is honoured over the 50 ms back-off");
        failed.Should().BeGreaterThan(1);
        (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(100_000));
    }

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    public async Task Upload_ServerRefusesTheBytesWith403_FailsAtOnceWithoutRetryingAndForgetsTheUpload(Wire protocol)
    {
        var refusals = 0;
        await using var server = await UploadServer.StartAsync(async (context, next) =>
        {
            if (context.Request.ContentLength > 0)
            {
                Interlocked.Increment(ref refusals);
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsJsonAsync(new { title = "processing refused" });
                return;
            }

            await next();
        });
        using var store = new JsonFileUploadResumeStore(Clients.StorePath());
        var client = new ResumableUploadClient(Clients.Http(), Clients.Options(protocol, server.BaseAddress), store);
        await using var content = new PatternStream(100_000);

        var upload = () => client.UploadAsync(UploadSource.FromStream(content, "refused.bin", "refused-" + protocol));

        var failure = (await upload.Should().ThrowAsync<ResumableUploadException>()).Which;
        failure.IsTransient.Should().BeFalse();
        failure.StatusCode.Should().Be(403);
        failure.ResponseBody.Should().Contain("processing refused");
        refusals.Should().Be(1, "a final failure is not retried");
        (await store.ListAsync()).Should().BeEmpty();
    }

    [Theory]
    [InlineData(Wire.XFileId)]
    [InlineData(Wire.Tus)]
    [InlineData(Wire.Ietf6)]
    public async Task Upload_ConnectionStallsMidBody_IsAbortedAfterTheStallTimeoutAndResumed(Wire protocol)
    {
        await using var server = await UploadServer.StartAsync();
        await using var proxy = new TcpProxy(() => server.Port, stallAfterBytes: 1_500_000);
        var options = Clients.Options(protocol, proxy.BaseAddress);
        options.StallTimeout = TimeSpan.FromSeconds(1);
        var client = new ResumableUploadClient(Clients.Http(), options, new JsonFileUploadResumeStore(Clients.StorePath()));
        const long length = 4L << 20;
        await using var content = new PatternStream(length);

        var result = await client.UploadAsync(UploadSource.FromStream(content, "stall.bin", "stall-" + protocol));

        proxy.Stalls.Should().Be(1);
        (await server.DownloadSha256Async(result)).Should().Be(PatternStream.Sha256(length));
    }

    [Fact]
    public async Task Upload_FileInfoSource_RegisteredThroughHttpClientFactory_Uploads()
    {
        await using var server = await UploadServer.StartAsync();
        var path = Path.Combine(server.Root, "hello.txt");
        await File.WriteAllTextAsync(path, "hello from the DI-registered client");
        var services = new ServiceCollection();
        services.AddSingleton<IUploadResumeStore>(new JsonFileUploadResumeStore(Clients.StorePath()));
        services.AddResumableUploadClient(o =>
        {
            o.Endpoint = server.BaseAddress;
            o.Protocol = UploadProtocol.Tus;
        });
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<ResumableUploadClient>();
        var result = await client.UploadFileAsync(path);

        result.Location.Should().NotBeNull();
        (await server.DownloadSha256Async(result)).Should().Be(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(path))));
    }

    [Fact]
    public async Task ForgetAsync_UnfinishedTusUpload_RemovesTheRecordAndDeletesItOnTheServer()
    {
        await using var server = await UploadServer.StartAsync();
        using var store = new JsonFileUploadResumeStore(Clients.StorePath());
        var client = new ResumableUploadClient(Clients.Http(), Clients.Options(Wire.Tus, server.BaseAddress), store);
        await using var content = new PatternStream(4L << 20);
        using var pause = new CancellationTokenSource();
        var upload = () => client.UploadAsync(UploadSource.FromStream(content, "forget.bin", "forget"), new Clients.ProgressLog(p =>
        {
            if (p.BytesUploaded > 1L << 20)
            {
                pause.Cancel();
            }
        }), pause.Token);
        await upload.Should().ThrowAsync<OperationCanceledException>();

        var record = (await client.ListUnfinishedAsync()).Should().ContainSingle().Which;
        await client.ForgetAsync(record);

        (await client.ListUnfinishedAsync()).Should().BeEmpty();
        using var http = new HttpClient();
        using var head = new HttpRequestMessage(HttpMethod.Head, record.Location);
        head.Headers.Add("Tus-Resumable", "1.0.0");
        ((int)(await http.SendAsync(head)).StatusCode).Should().Be(404);
    }
}
