using System.Net;
using System.Net.Http.Headers;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Testing;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>The real pipeline on Kestrel with the upload bytes in Azurite and the records in memory.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class EndToEndTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task XFileIdUpload_InTwoParts_IsStoredAsOneCommittedBlob_AndDownloads()
    {
        var options = azurite.Options(blockSize: 1 << 20);
        await using var host = await TestHost.StartAsync(
            u => u.AddInMemoryStores().AddAzureBlobDataStore(o => RegistrationTests.Copy(options, o)),
            o => o.EnableDownload = true);
        var file = StoreConformance.Bytes((3 << 20) + 12345, seed: 1);
        const string fileId = "report.pdf-3157073-1767225600000";
        const int split = (1 << 20) + 777;

        using (var first = await host.Client.SendAsync(Upload(fileId, 0, file.Length, file.AsMemory(0, split))))
        {
            first.StatusCode.Should().Be(HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
            (await first.Content.ReadAsStringAsync()).Should().Be(split.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using (var status = await host.Client.SendAsync(Status(fileId)))
        {
            (await status.Content.ReadAsStringAsync()).Should().Be(split.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var store = host.Services.GetRequiredService<AzureBlobUploadDataStore>();
        (await List(store, BlobStates.None)).Should().BeEmpty("an unfinished upload has staged blocks only");
        (await List(store, BlobStates.Uncommitted)).Should().ContainSingle();

        using (var second = await host.Client.SendAsync(Upload(fileId, split, file.Length, file.AsMemory(split))))
        {
            second.StatusCode.Should().Be(HttpStatusCode.OK, await second.Content.ReadAsStringAsync());
            (await second.Content.ReadAsStringAsync()).Should().Be(file.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using (var status = await host.Client.SendAsync(Status(fileId)))
        {
            (await status.Content.ReadAsStringAsync()).Should().Be(file.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var committed = (await List(store, BlobStates.None)).Should().ContainSingle().Subject;
        committed.Properties.ContentLength.Should().Be(file.Length);

        var download = await host.Client.GetByteArrayAsync(new Uri($"download?fileId={Uri.EscapeDataString(fileId)}", UriKind.Relative));
        download.Should().Equal(file);

        using var range = new HttpRequestMessage(HttpMethod.Get, $"download?fileId={Uri.EscapeDataString(fileId)}");
        range.Headers.Range = new RangeHeaderValue(split - 10, split + 9);
        using var partial = await host.Client.SendAsync(range);
        partial.StatusCode.Should().Be(HttpStatusCode.PartialContent);
        (await partial.Content.ReadAsByteArrayAsync()).Should().Equal(file.AsSpan(split - 10, 20).ToArray());
    }

    [Fact]
    public async Task BlobServiceDown_DuringAnUpload_Answers503_AndTheStatusKeepsThePublishedCount()
    {
        var server = await AzuriteServer.StartAsync();
        try
        {
            var options = AzuriteFixture.OptionsFor(server.ConnectionString, maxRetries: 0);
            await using var host = await TestHost.StartAsync(u => u.AddInMemoryStores().AddAzureBlobDataStore(o => RegistrationTests.Copy(options, o)));
            var file = StoreConformance.Bytes(200_000, seed: 2);
            using (var first = await host.Client.SendAsync(Upload("down.bin", 0, file.Length, file.AsMemory(0, 100_000))))
            {
                first.StatusCode.Should().Be(HttpStatusCode.OK);
            }

            server.Kill();

            using (var second = await host.Client.SendAsync(Upload("down.bin", 100_000, file.Length, file.AsMemory(100_000))))
            {
                second.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await second.Content.ReadAsStringAsync());
            }

            using var status = await host.Client.SendAsync(Status("down.bin"));
            (await status.Content.ReadAsStringAsync()).Should().Be("100000");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task TusConcatenation_OfTwoPartials_StreamsThePartsIntoTheFinalsBlob()
    {
        var options = azurite.Options(blockSize: 64 * 1024);
        await using var host = await TestHost.StartAsync(
            u => u.AddInMemoryStores().AddAzureBlobDataStore(o => RegistrationTests.Copy(options, o)),
            o => o.EnableDownload = true,
            prefix: "/files");
        var parts = new[] { StoreConformance.Bytes(150_000, seed: 3), StoreConformance.Bytes(70_001, seed: 4) };

        using (var discovery = await host.Client.SendAsync(Tus(HttpMethod.Options, "files")))
        {
            discovery.Headers.GetValues("Tus-Extension").Single().Should().Contain("concatenation");
        }

        var locations = new List<string>();
        foreach (var part in parts)
        {
            using var create = Tus(HttpMethod.Post, "files");
            create.Headers.Add("Upload-Length", part.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            create.Headers.Add("Upload-Concat", "partial");
            using var created = await host.Client.SendAsync(create);
            created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var location = created.Headers.Location!.OriginalString;
            locations.Add(location);

            using var patch = Tus(HttpMethod.Patch, location.TrimStart('/'));
            patch.Headers.Add("Upload-Offset", "0");
            patch.Content = new ByteArrayContent(part);
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
            using var patched = await host.Client.SendAsync(patch);
            patched.StatusCode.Should().Be(HttpStatusCode.NoContent, await patched.Content.ReadAsStringAsync());
        }

        using var final = Tus(HttpMethod.Post, "files");
        final.Headers.Add("Upload-Concat", "final;" + string.Join(' ', locations));
        using var finalCreated = await host.Client.SendAsync(final);
        finalCreated.StatusCode.Should().Be(HttpStatusCode.Created, await finalCreated.Content.ReadAsStringAsync());

        var bytes = await host.Client.GetByteArrayAsync(new Uri(finalCreated.Headers.Location!.OriginalString.TrimStart('/'), UriKind.Relative));
        bytes.Should().Equal(parts[0].Concat(parts[1]));
    }

    private static HttpRequestMessage Tus(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        return request;
    }

    private static HttpRequestMessage Upload(string fileId, long start, long size, ReadOnlyMemory<byte> body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ReadOnlyMemoryContent(body) };
        request.Headers.Add("X-File-Id", fileId);
        request.Headers.Add("X-Start-Byte", start.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-File-Size", size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return request;
    }

    private static HttpRequestMessage Status(string fileId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", fileId);
        return request;
    }

    private static async Task<List<BlobItem>> List(AzureBlobUploadDataStore store, BlobStates states)
    {
        var items = new List<BlobItem>();
        await foreach (var item in store.Container.GetBlobsAsync(new GetBlobsOptions { Prefix = store.BlobName(string.Empty), States = states }))
        {
            items.Add(item);
        }

        return items;
    }
}
