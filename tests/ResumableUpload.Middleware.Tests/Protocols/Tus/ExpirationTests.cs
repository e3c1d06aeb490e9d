using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>The expiration extension: Upload-Expires on POST and PATCH, and 410 Gone for an expired upload.</summary>
public sealed class ExpirationTests
{
    private static readonly TimeSpan Expiration = TimeSpan.FromHours(1);

    [Fact]
    public async Task PostAndPatch_UnfinishedUpload_CarryUploadExpiresInRfc9110FormatInTheFuture()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.IncompleteUploadExpiration = Expiration);
        var before = DateTimeOffset.UtcNow;

        using var post = await host.Client.CreateAsync(length: 100);
        var url = post.Headers.Location!.OriginalString;
        using var patch = await host.Client.PatchAsync(url, 0, new byte[50]);

        foreach (var response in new[] { post, patch })
        {
            var value = response.Header("Upload-Expires");
            value.Should().NotBeNull("{0} of an upload that is going to expire carries Upload-Expires", response.RequestMessage!.Method);
            value.Should().MatchRegex(@"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$", "an RFC 9110 IMF-fixdate");
            var expires = DateTimeOffset.ParseExact(value!, "R", CultureInfo.InvariantCulture);
            expires.Should().BeAfter(before).And.BeCloseTo(before + Expiration, TimeSpan.FromMinutes(1));
        }
    }

    [Fact]
    public async Task Patch_AfterExpiration_Returns410AndHeadReturns410()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartAsync(time);
        var url = await host.Client.CreateUploadAsync(length: 100);
        using var first = await host.Client.PatchAsync(url, 0, new byte[40]);
        var expires = DateTimeOffset.ParseExact(first.Header("Upload-Expires")!, "R", CultureInfo.InvariantCulture);
        expires.Should().Be(new DateTimeOffset(time.GetUtcNow().Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero) + Expiration, "the PATCH refreshed the expiry");

        time.Advance(Expiration - TimeSpan.FromSeconds(1));
        (await host.Client.GetOffsetAsync(url)).Should().Be(40, "the upload has not expired yet");
        time.Advance(TimeSpan.FromSeconds(1));
        using var head = await host.Client.HeadAsync(url);
        using var patch = await host.Client.PatchAsync(url, 40, new byte[60]);

        head.StatusCode.Should().Be(HttpStatusCode.Gone, "the server still keeps track of the expired upload");
        head.Header("Upload-Offset").Should().BeNull();
        patch.StatusCode.Should().Be(HttpStatusCode.Gone);
    }

    [Fact]
    public async Task Head_ExpiredUploadAfterCleanup_Returns404()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartAsync(time);
        var url = await host.Client.CreateUploadAsync(length: 100);
        time.Advance(Expiration);

        var sweeper = host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ResumableUpload.Middleware.Hosting.UploadExpirationService>().Single();
        (await sweeper.RunOnceAsync(CancellationToken.None)).Should().Be(1);
        using var head = await host.Client.HeadAsync(url);

        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Patch_ThatCompletesTheUpload_HasNoUploadExpires()
    {
        // Upload-Expires is about *unfinished* uploads; a finished one is kept for CompletedUploadRetention.
        await using var host = await UploadTestHost.StartAsync();
        var url = await host.Client.CreateUploadAsync(length: 10);

        using var patch = await host.Client.PatchAsync(url, 0, new byte[10]);

        patch.StatusCode.Should().Be(HttpStatusCode.NoContent);
        patch.Header("Upload-Expires").Should().BeNull();
    }

    private static Task<UploadTestHost> StartAsync(FakeTimeProvider time)
        => UploadTestHost.StartAsync(
            configureOptions: o =>
            {
                o.IncompleteUploadExpiration = Expiration;
                o.ExpirationScanInterval = TimeSpan.FromDays(30); // so the background sweeper never races the test
            },
            configureServices: s => s.AddSingleton<TimeProvider>(time));
}
