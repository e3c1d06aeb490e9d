using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Security;

/// <summary>Ids are scoped by partition: one user never sees, appends to or reads another user's upload.</summary>
public sealed class PartitionTests
{
    private const string SharedId = "same";

    [Fact]
    public async Task Status_OtherUsersPartialUpload_IsZero()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        (await alice.UploadAsync(SharedId, Protocol.RandomBytes(1_500), startByte: 0, fileSize: 4_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await alice.GetStatusAsync(SharedId)).Should().Be(1_500);
        (await bob.GetStatusAsync(SharedId)).Should().Be(0, "bob's \"same\" is not alice's \"same\"");
    }

    [Fact]
    public async Task Append_AtOtherUsersCount_Is409WithZeroAndLeavesTheirBytesAlone()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        var file = Protocol.RandomBytes(4_000, seed: 7);
        (await alice.UploadAsync(SharedId, file.AsMemory(0, 1_500), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var response = await bob.UploadAsync(SharedId, Protocol.RandomBytes(2_500, seed: 8), startByte: 1_500, fileSize: 4_000);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Be("0", "bob has no bytes stored under this id");
        (await alice.GetStatusAsync(SharedId)).Should().Be(1_500);
        (await alice.UploadAsync(SharedId, file.AsMemory(1_500), startByte: 1_500, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await alice.DownloadAsync(SharedId)).Should().Equal(file);
    }

    [Fact]
    public async Task Download_OtherUsersCompletedUpload_Is404()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        (await alice.UploadAsync(SharedId, Protocol.RandomBytes(1_000))).StatusCode.Should().Be(HttpStatusCode.OK);

        using var request = new HttpRequestMessage(HttpMethod.Get, "download");
        request.Headers.Add("X-File-Id", SharedId);
        using var response = await bob.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.NotFound);
        (await alice.DownloadAsync(SharedId)).Should().HaveCount(1_000);
    }

    [Fact]
    public async Task Upload_SameIdByAnotherUser_DoesNotChangeFirstUsersBytes()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        var aliceFile = Protocol.RandomBytes(3_000, seed: 1);
        var bobFile = Protocol.RandomBytes(2_000, seed: 2);
        (await alice.UploadAsync(SharedId, aliceFile)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await bob.UploadAsync(SharedId, bobFile)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await alice.DownloadAsync(SharedId)).Should().Equal(aliceFile);
        (await bob.DownloadAsync(SharedId)).Should().Equal(bobFile);
        (await alice.GetStatusAsync(SharedId)).Should().Be(3_000);
        (await bob.GetStatusAsync(SharedId)).Should().Be(2_000);
    }

    [Fact]
    public async Task Upload_AnonymousClient_IsAThirdPartition()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var alice = host.CreateClient("alice");
        using var bob = host.CreateClient("bob");
        using var anonymous = host.CreateClient();
        var aliceFile = Protocol.RandomBytes(100, seed: 1);
        var bobFile = Protocol.RandomBytes(200, seed: 2);
        var anonymousFile = Protocol.RandomBytes(300, seed: 3);

        (await alice.UploadAsync(SharedId, aliceFile)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await anonymous.GetStatusAsync(SharedId)).Should().Be(0);
        (await bob.UploadAsync(SharedId, bobFile)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await anonymous.UploadAsync(SharedId, anonymousFile)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await alice.DownloadAsync(SharedId)).Should().Equal(aliceFile);
        (await bob.DownloadAsync(SharedId)).Should().Equal(bobFile);
        (await anonymous.DownloadAsync(SharedId)).Should().Equal(anonymousFile);
        Directory.EnumerateFiles(Path.Combine(host.StorageRoot, "data"), "*.bin", SearchOption.AllDirectories).Should().HaveCount(3);
    }

    [Fact]
    public async Task Upload_UserNamedAnonymous_IsNotTheAnonymousPartition()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var userNamedAnonymous = host.CreateClient("anonymous");
        using var anonymous = host.CreateClient();

        (await anonymous.UploadAsync(SharedId, Protocol.RandomBytes(300))).StatusCode.Should().Be(HttpStatusCode.OK);

        (await userNamedAnonymous.GetStatusAsync(SharedId)).Should().Be(0, "user partitions and the anonymous partition never meet");
        (await anonymous.GetStatusAsync(SharedId)).Should().Be(300);
    }

    [Fact]
    public async Task Requests_AuthenticatedUserWithoutIdentifyingClaim_Are403Problem()
    {
        await using var host = await UploadTestHost.StartAsync(testAuthentication: true);
        using var nameless = host.CreateClient(TestAuthenticationHandler.NamelessUser);

        using var status = new HttpRequestMessage(HttpMethod.Get, "status");
        status.Headers.Add("X-File-Id", SharedId);
        using var statusResponse = await nameless.SendAsync(status);
        using var uploadResponse = await nameless.UploadAsync(SharedId, Protocol.RandomBytes(100));

        await AssertProblemAsync(statusResponse, HttpStatusCode.Forbidden);
        await AssertProblemAsync(uploadResponse, HttpStatusCode.Forbidden);
        Directory.Exists(Path.Combine(host.StorageRoot, "state")).Should().BeFalse("a refused request stores nothing");
    }

    [Fact]
    public async Task MapResumableUploads_RequireAuthorization_Anonymous401AndUser200()
    {
        await using var host = await UploadTestHost.StartAsync(
            testAuthentication: true,
            configurePipeline: app =>
            {
                // StartAsync has already added UseAuthentication() for the test scheme.
                app.UseAuthorization();
                app.MapResumableUploads("/files").RequireAuthorization();
            });
        using var alice = host.CreateClient("alice");
        alice.BaseAddress = new Uri(host.BaseAddress, "files/");

        using var anonymousRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(host.BaseAddress, "files/status"));
        anonymousRequest.Headers.Add("X-File-Id", SharedId);
        using var anonymousResponse = await host.Client.SendAsync(anonymousRequest);
        using var anonymousUpload = await host.Client.SendAsync(WithUri(Protocol.UploadRequest(SharedId, Protocol.RandomBytes(10)), new Uri(host.BaseAddress, "files/upload")));

        anonymousResponse.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        anonymousUpload.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await alice.GetStatusAsync(SharedId)).Should().Be(0);
        (await alice.UploadAsync(SharedId, Protocol.RandomBytes(64))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await alice.GetStatusAsync(SharedId)).Should().Be(64);
        (await alice.DownloadAsync(SharedId)).Should().Equal(Protocol.RandomBytes(64));
    }

    [Fact]
    public async Task CustomPartitionResolver_IsUsedAndNullIs403()
    {
        await using var host = await UploadTestHost.StartAsync(configureUploads: b => b.AddPartitionResolver<TenantHeaderPartitionResolver>());
        using var tenantA = host.CreateClient();
        tenantA.DefaultRequestHeaders.Add(TenantHeaderPartitionResolver.Header, "a");
        using var tenantB = host.CreateClient();
        tenantB.DefaultRequestHeaders.Add(TenantHeaderPartitionResolver.Header, "b");
        var file = Protocol.RandomBytes(500);

        (await tenantA.UploadAsync(SharedId, file)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await tenantA.GetStatusAsync(SharedId)).Should().Be(500);
        (await tenantB.GetStatusAsync(SharedId)).Should().Be(0, "tenant b is another partition");
        using var noTenant = await host.Client.UploadAsync(SharedId, file);
        await AssertProblemAsync(noTenant, HttpStatusCode.Forbidden);
        using var statusRequest = new HttpRequestMessage(HttpMethod.Get, "status");
        statusRequest.Headers.Add("X-File-Id", SharedId);
        using var noTenantStatus = await host.Client.SendAsync(statusRequest);
        await AssertProblemAsync(noTenantStatus, HttpStatusCode.Forbidden);

        var resolver = host.Services.GetRequiredService<IUploadPartitionResolver>().Should().BeOfType<TenantHeaderPartitionResolver>().Subject;
        resolver.Calls.Should().BeGreaterThanOrEqualTo(5);
        var state = Directory.EnumerateFiles(Path.Combine(host.StorageRoot, "state"), "*.json", SearchOption.AllDirectories).Should().ContainSingle().Subject;
        using var record = JsonDocument.Parse(await File.ReadAllBytesAsync(state));
        record.RootElement.GetProperty("partition").GetString().Should().Be("tenant:a");
    }

    [Fact]
    public async Task CustomPartitionResolver_WithMapResumableUploads_IsUsed()
    {
        await using var host = await UploadTestHost.StartAsync(
            configureUploads: b => b.AddPartitionResolver<TenantHeaderPartitionResolver>(),
            configurePipeline: app => app.MapResumableUploads("/files"));
        using var tenantA = host.CreateClient();
        tenantA.BaseAddress = new Uri(host.BaseAddress, "files/");
        tenantA.DefaultRequestHeaders.Add(TenantHeaderPartitionResolver.Header, "a");
        using var noTenant = host.CreateClient();
        noTenant.BaseAddress = tenantA.BaseAddress;

        (await tenantA.UploadAsync(SharedId, Protocol.RandomBytes(50))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await tenantA.GetStatusAsync(SharedId)).Should().Be(50);
        using var refused = await noTenant.UploadAsync(SharedId, Protocol.RandomBytes(50));

        await AssertProblemAsync(refused, HttpStatusCode.Forbidden);
    }

    private static HttpRequestMessage WithUri(HttpRequestMessage request, Uri uri)
    {
        request.RequestUri = uri;
        return request;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        response.StatusCode.Should().Be(expected);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().Should().Be((int)expected);
    }

    /// <summary>A resolver that scopes uploads by an <c>X-Tenant</c> header and refuses requests without one.</summary>
    public sealed class TenantHeaderPartitionResolver : IUploadPartitionResolver
    {
        public const string Header = "X-Tenant";

        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ValueTask<string?> ResolvePartitionAsync(HttpContext context)
        {
            Interlocked.Increment(ref _calls);
            var tenant = context.Request.Headers[Header].ToString();
            return ValueTask.FromResult(string.IsNullOrEmpty(tenant) ? null : "tenant:" + tenant);
        }
    }
}
