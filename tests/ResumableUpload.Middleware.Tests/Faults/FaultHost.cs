using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Tus;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>A real Kestrel host whose stores are the filesystem stores wrapped in fault injectors, and the checks every fault test makes.</summary>
internal sealed class FaultHost : IAsyncDisposable
{
    /// <summary>The partition of the tests' anonymous clients (the default resolver's).</summary>
    public const string AnonymousPartition = "anonymous:anonymous";

    private FaultHost(UploadTestHost host, FaultPlan plan)
    {
        Host = host;
        Plan = plan;
        Paths = host.Services.GetRequiredService<FileSystemPaths>();
    }

    public UploadTestHost Host { get; }

    public FaultPlan Plan { get; }

    public FileSystemPaths Paths { get; }

    public HttpClient Client => Host.Client;

    /// <summary>Starts a host on <paramref name="storageRoot"/> (default: a fresh temp directory) publishing progress every <paramref name="publishInterval"/> bytes.</summary>
    public static async Task<FaultHost> StartAsync(FaultPlan? plan = null, string? storageRoot = null, int publishInterval = 64 * 1024)
    {
        plan ??= new FaultPlan();
        var host = await UploadTestHost.StartAsync(
            configureOptions: o => o.ProgressPublishInterval = publishInterval,
            configureUploads: b => b.AddFaultInjection(plan),
            storageRoot: storageRoot);
        return new FaultHost(host, plan);
    }

    /// <summary>The data file of an upload, where the real filesystem store keeps it.</summary>
    public string DataPath(string fileId) => Paths.DataPath(UploadKeys.Create(AnonymousPartition, fileId));

    /// <summary>The bytes really in the data file (none when there is no file).</summary>
    public byte[] BytesOnDisk(string fileId)
    {
        var path = DataPath(fileId);
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// The stored offset must never count more than the data file holds, and the bytes it counts must be the
    /// client's bytes (a prefix of <paramref name="file"/>).
    /// </summary>
    public void ShouldBeConsistent(string fileId, long offset, byte[] file)
    {
        var onDisk = BytesOnDisk(fileId);
        offset.Should().BeLessThanOrEqualTo(onDisk.Length, "the published offset ({0}) must never count more than the {1} bytes really in the data file", offset, onDisk.Length);
        offset.Should().BeLessThanOrEqualTo(file.Length);
        Protocol.Sha256(onDisk.AsSpan(0, (int)offset)).Should().Be(Protocol.Sha256(file.AsSpan(0, (int)offset)), "the {0} bytes the offset counts must be the client's first {0} bytes", offset);
    }

    /// <summary>X-File-Id: reads GET /status and checks it against the data file.</summary>
    public async Task<long> StatusShouldBeConsistentAsync(string fileId, byte[] file)
    {
        var offset = await Client.GetStatusAsync(fileId);
        ShouldBeConsistent(fileId, offset, file);
        return offset;
    }

    /// <summary>tus: reads HEAD's Upload-Offset and checks it against the data file.</summary>
    public async Task<long> TusOffsetShouldBeConsistentAsync(string url, byte[] file)
    {
        var offset = await Client.GetOffsetAsync(url);
        ShouldBeConsistent(TusFileId(url), offset, file);
        return offset;
    }

    /// <summary>The engine's file id of a tus upload URL.</summary>
    public static string TusFileId(string url) => "tus:" + TusClient.UploadUrl().Match(url).Groups["id"].Value;

    /// <summary>After the fault cleared: the X-File-Id upload resumes from GET /status and the download is the file, byte for byte.</summary>
    public async Task ResumeAndVerifyAsync(string fileId, byte[] file)
    {
        var offset = await StatusShouldBeConsistentAsync(fileId, file);
        using (var resumed = await Client.UploadAsync(fileId, file.AsMemory((int)offset), startByte: offset, fileSize: file.Length))
        {
            resumed.StatusCode.Should().Be(HttpStatusCode.OK, "the resume from byte {0} should complete once the store is back: {1}", offset, await resumed.Content.ReadAsStringAsync());
        }

        (await Client.GetStatusAsync(fileId)).Should().Be(file.Length);
        Protocol.Sha256(await Client.DownloadAsync(fileId)).Should().Be(Protocol.Sha256(file), "the downloaded upload must be intact");
        Protocol.Sha256(BytesOnDisk(fileId)).Should().Be(Protocol.Sha256(file), "the data file must hold exactly the file");
    }

    /// <summary>After the fault cleared: the tus upload resumes from HEAD and the download is the file, byte for byte.</summary>
    public async Task TusResumeAndVerifyAsync(string url, byte[] file)
    {
        var offset = await TusOffsetShouldBeConsistentAsync(url, file);
        using (var resumed = await Client.PatchAsync(url, offset, file.AsMemory((int)offset)))
        {
            resumed.StatusCode.Should().Be(HttpStatusCode.NoContent, "the PATCH from byte {0} should complete once the store is back: {1}", offset, await resumed.Content.ReadAsStringAsync());
            resumed.Header("Upload-Offset").Should().Be(file.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Protocol.Sha256(await Client.GetByteArrayAsync(url)).Should().Be(Protocol.Sha256(file), "the downloaded upload must be intact");
        Protocol.Sha256(BytesOnDisk(TusFileId(url))).Should().Be(Protocol.Sha256(file), "the data file must hold exactly the file");
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

/// <summary>Checks of the refusals a store failure must produce.</summary>
internal static class FaultAssert
{
    /// <summary>503 (outage: problem+json and Retry-After) or 507 (no space: problem+json).</summary>
    public static async Task ShouldBeStoreFailureAsync(this HttpResponseMessage response, FaultKind kind, bool hasBody = true)
    {
        var body = await response.Content.ReadAsStringAsync();
        var expected = kind == FaultKind.DiskFull ? HttpStatusCode.InsufficientStorage : HttpStatusCode.ServiceUnavailable;
        response.StatusCode.Should().Be(expected, "a {0} of the store must be reported as {1}; the body was: {2}", kind, (int)expected, body);
        if (kind == FaultKind.Outage)
        {
            response.Headers.RetryAfter.Should().NotBeNull("a 503 tells the client when to retry");
        }

        if (!hasBody)
        {
            return;
        }

        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        using var json = JsonDocument.Parse(body);
        json.RootElement.GetProperty("status").GetInt32().Should().Be((int)expected);
        json.RootElement.GetProperty("type").GetString().Should().EndWith(kind == FaultKind.DiskFull ? "insufficient-storage" : "storage-unavailable");
        json.RootElement.GetProperty("detail").GetString().Should().NotBeNullOrWhiteSpace();
    }
}
