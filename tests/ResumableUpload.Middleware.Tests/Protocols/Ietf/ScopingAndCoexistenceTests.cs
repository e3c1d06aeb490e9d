using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Tus;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>Partitions, the other protocols on the same host, and the 104 (Upload Resumption Supported).</summary>
public sealed class ScopingAndCoexistenceTests
{
    [Fact]
    public async Task OtherUser_HeadPatchDeleteOnTheUploadResource_Return404AndLeaveTheUploadAlone()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        var file = Protocol.RandomBytes(1_000);
        var url = await alice.CreateIncompleteAsync(8, file.AsMemory(0, 400), uploadLength: file.Length);

        using var head = await bob.HeadAsync(8, url);
        using var patch = await bob.PatchAsync(8, url, 400, Protocol.RandomBytes(600, seed: 5), complete: true);
        using var delete = await bob.DeleteAsync(8, url);
        using var anonymous = await host.Client.HeadAsync(8, url);

        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
        head.Header("Upload-Offset").Should().BeNull();
        patch.StatusCode.Should().Be(HttpStatusCode.NotFound);
        delete.StatusCode.Should().Be(HttpStatusCode.NotFound);
        anonymous.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await alice.GetOffsetAsync(8, url)).Should().Be(400);
        (await alice.PatchAsync(8, url, 400, file.AsMemory(400), complete: true)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await alice.GetByteArrayAsync(url)).Should().Equal(file);
        (await bob.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task IetfTusAndXFileId_OnOneHost_AllCompleteAndNeverReachEachOther()
    {
        await using var host = await UploadTestHost.StartAsync();
        var ietf = Protocol.RandomBytes(50_000, seed: 1);
        var tus = Protocol.RandomBytes(40_000, seed: 2);
        var classic = Protocol.RandomBytes(30_000, seed: 3);

        var ietfUrl = await host.Client.CreateIncompleteAsync(8, ietf.AsMemory(0, 20_000), uploadLength: ietf.Length);
        var tusUrl = await TusClient.CreateUploadAsync(host.Client, length: tus.Length);
        (await host.Client.UploadAsync("classic", classic.AsMemory(0, 10_000), 0, classic.Length)).IsSuccessStatusCode.Should().BeTrue();

        // Each front sees only its own uploads at a shared /<id> URL space.
        using (var tusHeadOfIetf = await TusClient.HeadAsync(host.Client, ietfUrl))
        {
            tusHeadOfIetf.StatusCode.Should().Be(HttpStatusCode.NotFound);
        }

        using (var ietfHeadOfTus = await host.Client.HeadAsync(8, tusUrl))
        {
            ietfHeadOfTus.StatusCode.Should().Be(HttpStatusCode.NotFound);
        }

        (await TusClient.PatchAsync(host.Client, tusUrl, 0, tus)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await host.Client.PatchAsync(8, ietfUrl, 20_000, ietf.AsMemory(20_000), complete: true)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("classic", classic.AsMemory(10_000), 10_000, classic.Length)).IsSuccessStatusCode.Should().BeTrue();

        (await host.Client.GetByteArrayAsync(ietfUrl)).Should().Equal(ietf);
        (await host.Client.GetByteArrayAsync(tusUrl)).Should().Equal(tus);
        (await host.Client.DownloadAsync("classic")).Should().Equal(classic);

        // OPTIONS at the collection serves both discovery sets.
        using var options = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/"));
        options.Header("Tus-Version").Should().Be("1.0.0");
        options.Header("Upload-Limit").Should().NotBeNull();
        options.Header("Accept-Patch").Should().Contain(IetfClient.PartialUpload);
    }

    [Fact]
    public async Task EnableIetfOff_IetfCreationIsNotServedButTusStillIs()
    {
        await using var host = await UploadTestHost.StartAsync(
            o => o.EnableIetf = false,
            configurePipeline: app =>
            {
                app.UseResumableUploads();
                app.Run(context => Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, "next"));
            });

        using var created = await host.Client.CreateAsync(8, Protocol.RandomBytes(5), complete: false);

        created.StatusCode.Should().Be(HttpStatusCode.OK);
        (await created.Content.ReadAsStringAsync()).Should().Be("next");
        await TusClient.CreateUploadAsync(host.Client, length: 5);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(8)]
    public async Task Creation_WithInformationalResponsesOnTheListener_Sends104WithLocationAndVersionBeforeTheFinalResponse(int version)
    {
        // "The server SHOULD send the 104 (Upload Resumption Supported) informational response with the Location of
        // the upload resource" (+ Upload-Draft-Interop-Version, and from -09 Upload-Limit), and the final response
        // carries the same Location.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Path.GetTempPath() });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, lo => lo.UseResumableUploadInformationalResponses()));
        builder.Logging.ClearProviders();
        builder.Services.AddResumableUploads().AddInMemoryStores();
        await using var app = builder.Build();
        app.UseResumableUploads();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        var v = version.ToString(CultureInfo.InvariantCulture);

        var responses = await IetfClient.ExchangeAsync(port, "POST", "/", Protocol.RandomBytes(25), (IetfClient.InteropVersion, v), ("Upload-Complete", "?0"), ("Upload-Length", "100"));
        await app.StopAsync();

        var final = responses[^1];
        final.Status.Should().Be(201);
        // Regression (fixed): IetfInformational.TrySendAsync is a stub that returns false, so the IETF front never sends the 104
        // even when the listener can (UseResumableUploadInformationalResponses()).
        responses.Should().HaveCount(2, "a 104 comes before the final response; got {0}", string.Join(" | ", responses));
        var informational = responses[0];
        informational.Status.Should().Be(104);
        informational.Header(IetfClient.InteropVersion).Should().Be(v);
        informational.Header("Location").Should().Be(final.Header("Location"));
        informational.Header("Upload-Limit").Should().NotBeNull();
    }

    [Fact]
    public async Task Creation_WithUnknownVersionAndInformationalResponsesOn_NeverGets104()
    {
        // "If the request's interop version is missing or does not match, the server MUST NOT send 104."
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = Path.GetTempPath() });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, lo => lo.UseResumableUploadInformationalResponses()));
        builder.Logging.ClearProviders();
        builder.Services.AddResumableUploads().AddInMemoryStores();
        await using var app = builder.Build();
        app.UseResumableUploads();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;

        var unknown = await IetfClient.ExchangeAsync(port, "POST", "/", Protocol.RandomBytes(25), (IetfClient.InteropVersion, "9"), ("Upload-Complete", "?0"));
        var missing = await IetfClient.ExchangeAsync(port, "POST", "/", Protocol.RandomBytes(25), ("Upload-Complete", "?0"));
        await app.StopAsync();

        unknown.Should().ContainSingle().Which.Status.Should().Be(201);
        missing.Should().ContainSingle().Which.Status.Should().Be(201);
    }
}
