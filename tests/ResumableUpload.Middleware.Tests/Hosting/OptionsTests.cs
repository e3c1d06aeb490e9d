using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Hosting;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Hosting;

/// <summary>Options bind from the <c>ResumableUploads</c> section and are validated when the host starts.</summary>
public sealed class OptionsTests
{
    [Fact]
    public async Task MaxUploadSize_FromConfiguration_Limits413And200()
    {
        await using var host = await UploadTestHost.StartAsync(configuration: [new("ResumableUploads:MaxUploadSize", "100")]);

        using var tooLarge = await host.Client.UploadAsync("too-large", Protocol.RandomBytes(101));
        using var fits = await host.Client.UploadAsync("fits", Protocol.RandomBytes(100));

        tooLarge.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        fits.StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync("fits")).Should().Be(100);
        host.Services.GetRequiredService<IOptions<ResumableUploadOptions>>().Value.MaxUploadSize.Should().Be(100);
    }

    [Fact]
    public async Task MaxFileIdLength_FromConfiguration_RefusesLongerIds()
    {
        await using var host = await UploadTestHost.StartAsync(configuration: [new("ResumableUploads:MaxFileIdLength", "8")]);

        using var tooLong = await host.Client.UploadAsync("123456789", Protocol.RandomBytes(10));
        using var fits = await host.Client.UploadAsync("12345678", Protocol.RandomBytes(10));

        tooLong.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        fits.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task CodeConfiguration_RunsAfterConfigurationBinding_AndWins()
    {
        await using var host = await UploadTestHost.StartAsync(
            configureOptions: o => o.MaxUploadSize = 200,
            configuration: [new("ResumableUploads:MaxUploadSize", "100")]);

        using var response = await host.Client.UploadAsync("code-wins", Protocol.RandomBytes(150));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("MaxUploadSize", "0", "(was 0)")]
    [InlineData("MaxUploadSize", "-5", "(was -5)")]
    [InlineData("MaxFileIdLength", "0", "(was 0)")]
    [InlineData("MaxFileIdLength", "8193", "(was 8193)")]
    [InlineData("ProgressPublishInterval", "10", "(was 10)")]
    [InlineData("ExpirationScanInterval", "00:00:00.1", "(was 00:00:00.1")]
    [InlineData("IncompleteUploadExpiration", "00:00:00", "(was 00:00:00)")]
    [InlineData("CompletedUploadRetention", "-00:00:01", "(was -00:00:01)")]
    [InlineData("LockWaitTimeout", "00:06:00", "(was 00:06:00)")]
    [InlineData("MinimumBodyDataRate", "-1", "(was -1)")]
    [InlineData("MinimumBodyDataRateGracePeriod", "00:00:00.5", "(was 00:00:00.5")]
    [InlineData("MinimumBodyDataRateGracePeriod", "00:00:01", "(was 00:00:01)")] // regression: Kestrel refused it per request
    [InlineData("StalledWriterTimeout", "00:00:00.5", "(was 00:00:00.5")]
    [InlineData("StalledWriterTimeout", "02:00:00", "(was 02:00:00)")]
    [InlineData("Durability", "5", "(was 5)")]
    [InlineData("AnonymousPartition", " ", "must not be empty")]
    public async Task InvalidOption_FailsStartUpNamingOptionAndValue(string option, string value, string expectedValue)
    {
        var storage = UploadTestHost.CreateTempDirectory();
        try
        {
            var start = async () =>
            {
                await using var host = await UploadTestHost.StartAsync(storageRoot: storage, configuration: [new("ResumableUploads:" + option, value)]);
            };

            var failure = await start.Should().ThrowAsync<OptionsValidationException>();
            failure.Which.Message.Should().Contain("ResumableUploads:" + option).And.Contain(expectedValue);
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(storage);
        }
    }

    [Fact]
    public async Task InvalidOptionInCode_FailsStartUpNamingOptionAndValue()
    {
        var storage = UploadTestHost.CreateTempDirectory();
        try
        {
            var start = async () =>
            {
                await using var host = await UploadTestHost.StartAsync(storageRoot: storage, configureOptions: o => o.MaxUploadSize = 0);
            };

            (await start.Should().ThrowAsync<OptionsValidationException>())
                .Which.Message.Should().Contain("ResumableUploads:MaxUploadSize must be positive (was 0)");
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(storage);
        }
    }

    [Fact]
    public async Task ExpirationScanIntervalLongerThanATimerAllows_IsRefusedAtStartUpOrServed()
    {
        // Regression: ExpirationScanInterval had only a lower bound. PeriodicTimer refuses periods above
        // 0xFFFFFFFE ms (~49.7 days), so "60.00:00:00" passed validation and the expiration service then stopped the
        // host with a bare TaskCanceledException. The validator now caps the interval at 30 days.
        var storage = UploadTestHost.CreateTempDirectory();
        UploadTestHost? host = null;
        try
        {
            var failure = await Record.ExceptionAsync(async () =>
                host = await UploadTestHost.StartAsync(storageRoot: storage, configuration: [new("ResumableUploads:ExpirationScanInterval", "60.00:00:00")]));

            if (failure is not null)
            {
                failure.Should().BeOfType<OptionsValidationException>("a bad option must fail with a message naming it, not {0}", failure)
                    .Which.Message.Should().Contain("ResumableUploads:ExpirationScanInterval");
                return;
            }

            (await host!.Client.GetStatusAsync("still-up")).Should().Be(0);
            var sweeper = host.Services.GetServices<IHostedService>().OfType<UploadExpirationService>().Single();
            await Protocol.EventuallyAsync(() => Task.FromResult(sweeper.ExecuteTask is { IsCompleted: true }), TimeSpan.FromSeconds(1));
            sweeper.ExecuteTask!.IsFaulted.Should().BeFalse("the expiration service must keep running: {0}", sweeper.ExecuteTask.Exception);
            host.App.Lifetime.ApplicationStopping.IsCancellationRequested.Should().BeFalse("the host must not stop itself");
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }

            UploadTestHost.TryDeleteDirectory(storage);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task FileSystemRootPath_EmptyInConfiguration_FailsStartUpWithClearMessage(string rootPath)
    {
        var contentRoot = UploadTestHost.CreateTempDirectory();
        try
        {
            var builder = BareBuilder(contentRoot);
            builder.Configuration.AddInMemoryCollection([new("ResumableUploads:FileSystem:RootPath", rootPath)]);
            builder.Services.AddResumableUploads();
            await using var app = builder.Build();

            var start = async () =>
            {
                app.UseResumableUploads();
                await app.StartAsync();
                await app.StopAsync();
            };

            (await start.Should().ThrowAsync<OptionsValidationException>())
                .Which.Message.Should().Contain("ResumableUploads:FileSystem:RootPath");
            Directory.EnumerateFileSystemEntries(contentRoot).Should().BeEmpty("nothing may be written to the content root itself");
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(contentRoot);
        }
    }

    [Fact]
    public async Task UseResumableUploads_WithoutAddResumableUploads_ThrowsNamingAddResumableUploads()
    {
        var builder = BareBuilder(contentRoot: null);
        await using var app = builder.Build();

        var use = () => app.UseResumableUploads();

        use.Should().Throw<InvalidOperationException>().WithMessage("*AddResumableUploads*");
    }

    [Fact]
    public async Task MapResumableUploads_WithoutAddResumableUploads_ThrowsNamingAddResumableUploads()
    {
        var builder = BareBuilder(contentRoot: null);
        await using var app = builder.Build();

        var map = () => app.MapResumableUploads("/files");

        map.Should().Throw<InvalidOperationException>().WithMessage("*AddResumableUploads*");
    }

    private static WebApplicationBuilder BareBuilder(string? contentRoot)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        return builder;
    }
}
