using System.Text;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>
/// The drafts' own example exchanges, on the wire (hand-written HTTP/1.1, so every header is seen exactly as sent):
/// incomplete creation, HEAD, PATCH to completion and DELETE, with the headers each interop version defines and
/// none of the headers of other versions. The host has no informational-response listener, so no 104 comes.
/// </summary>
public sealed class ExampleExchangeTests
{
    private static (string, string) V(int version) => (IetfClient.InteropVersion, version.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string Id(IetfClient.RawResponse created)
    {
        var location = created.Header("Location");
        location.Should().NotBeNull("the server MUST send Location: {0}", created);
        IetfClient.UploadUrl().IsMatch(location!).Should().BeTrue("'{0}' should be an upload resource", location);
        return location!;
    }

    [Fact]
    public async Task V3_DraftExample_CreationHeadPatchDelete()
    {
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(100);

        // POST /upload; upload-draft-interop-version: 3; upload-incomplete: ?1; content-length: 25
        // → 201; location; upload-incomplete: ?1; upload-offset: 25
        var created = await IetfClient.SendRawAsync(host, "POST", "/", file[..25], V(3), ("Upload-Incomplete", "?1"));
        created.Status.Should().Be(201, "{0}", created);
        var url = Id(created);
        created.Header("Upload-Incomplete").Should().Be("?1");
        created.Header("Upload-Offset").Should().Be("25");

        // HEAD; v3 → 204; upload-offset: 25; upload-incomplete: ?1; cache-control: no-store
        var head = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(3));
        head.Status.Should().Be(204, "{0}", head);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Incomplete").Should().Be("?1");
        head.Header("Cache-Control").Should().Be("no-store");

        // PATCH; upload-offset: 25; v3; content-length: 75 (the last part: no Upload-Incomplete) → 201; upload-offset: 100
        var patched = await IetfClient.SendRawAsync(host, "PATCH", url, file[25..], ("Upload-Offset", "25"), V(3));
        patched.Status.Should().Be(201, "{0}", patched);
        patched.Header("Upload-Offset").Should().Be("100");
        patched.Header("Upload-Incomplete").Should().NotBe("?1");

        var done = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(3));
        done.Status.Should().Be(204);
        done.Header("Upload-Offset").Should().Be("100");
        done.Header("Upload-Incomplete").Should().Be("?0");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // DELETE; v3 → 204
        var deleted = await IetfClient.SendRawAsync(host, "DELETE", url, null, V(3));
        deleted.Status.Should().Be(204);

        foreach (var response in new[] { created, head, patched, done, deleted })
        {
            response.Has("Upload-Complete").Should().BeFalse("v3 has no Upload-Complete: {0}", response);
            response.Has("Upload-Limit").Should().BeFalse("v3 has no Upload-Limit: {0}", response);
        }

        // (The HEAD after completion does carry Upload-Length: see V3_Head_CompletedUpload_HasNoUploadLength.)
        foreach (var response in new[] { created, head, patched })
        {
            response.Has("Upload-Length").Should().BeFalse("v3 has no Upload-Length: {0}", response);
        }
    }

    [Fact]
    public async Task V5_DraftExample_CreationHeadPatchDelete()
    {
        await using var host = await UploadTestHost.StartAsync();

        // POST; v5; Upload-Complete: ?0; body 'hello ' → 201 Location, Upload-Offset: 6
        var created = await IetfClient.SendRawAsync(host, "POST", "/", "hello "u8.ToArray(), V(5), ("Upload-Complete", "?0"));
        created.Status.Should().Be(201, "{0}", created);
        var url = Id(created);
        created.Header("Upload-Offset").Should().Be("6");
        created.Header("Upload-Complete").Should().Be("?0");

        // HEAD; v5 → 204 Cache-Control: no-store, Upload-Complete: ?0, Upload-Offset: 6
        var head = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(5));
        head.Status.Should().Be(204, "{0}", head);
        head.Header("Cache-Control").Should().Be("no-store");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Offset").Should().Be("6");

        // PATCH; v5; Upload-Offset: 6; Upload-Complete: ?1 (no Content-Type in v5) → 2xx Upload-Offset: 12
        var patched = await IetfClient.SendRawAsync(host, "PATCH", url, "world!"u8.ToArray(), V(5), ("Upload-Offset", "6"), ("Upload-Complete", "?1"));
        ((int)patched.Status).Should().BeInRange(200, 299, "{0}", patched);
        patched.Header("Upload-Offset").Should().Be("12");
        patched.Header("Upload-Complete").Should().Be("?1");
        Encoding.ASCII.GetString(await host.Client.GetByteArrayAsync(url)).Should().Be("hello world!");

        var deleted = await IetfClient.SendRawAsync(host, "DELETE", url, null, V(5));
        deleted.Status.Should().Be(204);

        foreach (var response in new[] { created, head, patched, deleted })
        {
            response.Has("Upload-Incomplete").Should().BeFalse("Upload-Incomplete is v3 only: {0}", response);
            response.Has("Upload-Limit").Should().BeFalse("Upload-Limit arrived in v6: {0}", response);
        }
    }

    [Fact]
    public async Task V6_DraftExample_CreationHeadMismatchPatchDelete()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000_000_000);
        var file = Protocol.RandomBytes(100);

        // POST; v6; Upload-Complete: ?0; CL 25; Upload-Length: 100 → 201 Location, Upload-Complete: ?0, Upload-Offset: 25, Upload-Limit
        var created = await IetfClient.SendRawAsync(host, "POST", "/", file[..25], V(6), ("Upload-Complete", "?0"), ("Upload-Length", "100"));
        created.Status.Should().Be(201, "{0}", created);
        var url = Id(created);
        created.Header("Upload-Complete").Should().Be("?0");
        created.Header("Upload-Offset").Should().Be("25");
        IetfClient.ParseLimit(created.Header("Upload-Limit")).Should().Contain("max-size", 1_000_000_000).And.ContainKey("expires");

        // HEAD; v6 → 204 Upload-Offset: 25, Upload-Complete: ?0, Upload-Length: 100, Cache-Control: no-store
        var head = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(6));
        head.Status.Should().Be(204, "{0}", head);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Length").Should().Be("100");
        head.Header("Cache-Control").Should().Be("no-store");

        // 409 Conflict; application/problem+json {"type":"…#mismatching-upload-offset","expected-offset":25,"provided-offset":50}
        var conflict = await IetfClient.SendRawAsync(host, "PATCH", url, file[50..], ("Upload-Offset", "50"), V(6), ("Upload-Complete", "?1"), ("Content-Type", IetfClient.PartialUpload));
        conflict.Status.Should().Be(409, "{0}", conflict);
        conflict.Header("Content-Type").Should().StartWith("application/problem+json");
        using (var problem = System.Text.Json.JsonDocument.Parse(conflict.Body))
        {
            problem.RootElement.GetProperty("type").GetString().Should().Be(IetfClient.ProblemTypeBase + "mismatching-upload-offset");
            problem.RootElement.GetProperty("expected-offset").GetInt64().Should().Be(25);
            problem.RootElement.GetProperty("provided-offset").GetInt64().Should().Be(50);
        }

        // PATCH; Upload-Offset: 25; v6; CL 75; Content-Type: application/partial-upload → 201 Upload-Offset: 100
        var patched = await IetfClient.SendRawAsync(host, "PATCH", url, file[25..], ("Upload-Offset", "25"), V(6), ("Upload-Complete", "?1"), ("Content-Type", IetfClient.PartialUpload));
        patched.Status.Should().Be(201, "{0}", patched);
        patched.Header("Upload-Offset").Should().Be("100");
        patched.Header("Upload-Complete").Should().Be("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // 400; {"type":"…#completed-upload"}
        var completed = await IetfClient.SendRawAsync(host, "PATCH", url, file[..5], ("Upload-Offset", "100"), V(6), ("Upload-Complete", "?1"), ("Content-Type", IetfClient.PartialUpload));
        completed.Status.Should().Be(400, "{0}", completed);
        Encoding.UTF8.GetString(completed.Body).Should().Contain(IetfClient.ProblemTypeBase + "completed-upload");

        var deleted = await IetfClient.SendRawAsync(host, "DELETE", url, null, V(6));
        deleted.Status.Should().Be(204);

        foreach (var response in new[] { created, head, conflict, patched, completed, deleted })
        {
            response.Has("Upload-Incomplete").Should().BeFalse("{0}", response);
            (response.Header("Upload-Limit") ?? "").Should().NotContain("max-age", "v6 calls it expires: {0}", response);
        }
    }

    [Fact]
    public async Task V7_DraftExample_CreationHeadPatchPatchDelete()
    {
        await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1_000_000_000);
        var file = Protocol.RandomBytes(100);

        // POST; ?0; CL 25; Upload-Length: 100 → 201 Location, Upload-Limit
        var created = await IetfClient.SendRawAsync(host, "POST", "/", file[..25], V(7), ("Upload-Complete", "?0"), ("Upload-Length", "100"));
        created.Status.Should().Be(201, "{0}", created);
        var url = Id(created);
        IetfClient.ParseLimit(created.Header("Upload-Limit")).Should().Contain("max-size", 1_000_000_000).And.ContainKey("max-age");

        // HEAD → 204 Upload-Offset: 25, Upload-Complete: ?0, Cache-Control: no-store
        var head = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(7));
        head.Status.Should().Be(204, "{0}", head);
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Cache-Control").Should().Be("no-store");
        head.Header("Upload-Length").Should().Be("100");

        // PATCH; Upload-Complete: ?0; Upload-Offset: 25; CL 25; CT application/partial-upload → 204 Upload-Complete: ?0
        var middle = await IetfClient.SendRawAsync(host, "PATCH", url, file[25..50], V(7), ("Upload-Complete", "?0"), ("Upload-Offset", "25"), ("Content-Type", IetfClient.PartialUpload));
        middle.Status.Should().Be(204, "{0}", middle);
        middle.Header("Upload-Complete").Should().Be("?0");

        // PATCH; Upload-Complete: ?1; Upload-Offset: 50; … → 200 OK, Upload-Complete: ?1
        var last = await IetfClient.SendRawAsync(host, "PATCH", url, file[50..], V(7), ("Upload-Complete", "?1"), ("Upload-Offset", "50"), ("Content-Type", IetfClient.PartialUpload));
        last.Status.Should().Be(200, "{0}", last);
        last.Header("Upload-Complete").Should().Be("?1");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // DELETE → 204
        var deleted = await IetfClient.SendRawAsync(host, "DELETE", url, null, V(7));
        deleted.Status.Should().Be(204);

        foreach (var response in new[] { created, head, middle, last, deleted })
        {
            response.Has("Upload-Incomplete").Should().BeFalse("{0}", response);
            (response.Header("Upload-Limit") ?? "").Should().NotContain("expires", "renamed max-age in -06: {0}", response);
        }
    }

    [Fact]
    public async Task V8_DraftExample_CreationHeadPatchPatchHeadDelete()
    {
        await using var host = await UploadTestHost.StartAsync(o =>
        {
            o.MaxUploadSize = 1_000_000_000;
            o.IncompleteUploadExpiration = TimeSpan.FromHours(1);
        });
        var file = Protocol.RandomBytes(100);

        // POST /upload; Upload-Complete: ?0; CL 25; Upload-Length: 100 → 201 Created, Location, Upload-Limit
        var created = await IetfClient.SendRawAsync(host, "POST", "/", file[..25], V(8), ("Upload-Complete", "?0"), ("Upload-Length", "100"));
        created.Status.Should().Be(201, "{0}", created);
        var url = Id(created);
        IetfClient.ParseLimit(created.Header("Upload-Limit")).Should().Contain("max-size", 1_000_000_000);

        // HEAD → 204 Upload-Complete: ?0, Upload-Offset: 25, Upload-Length: 100, Upload-Limit: max-age=3600, Cache-Control: no-store
        var head = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(8));
        head.Status.Should().Be(204, "{0}", head);
        head.Header("Upload-Complete").Should().Be("?0");
        head.Header("Upload-Offset").Should().Be("25");
        head.Header("Upload-Length").Should().Be("100");
        IetfClient.ParseLimit(head.Header("Upload-Limit"))["max-age"].Should().BeInRange(1, 3600);
        head.Header("Cache-Control").Should().Be("no-store");

        // PATCH; Upload-Complete: ?0; Upload-Offset: 25; CL 25; CT application/partial-upload → 204 No Content, Upload-Complete: ?0
        var middle = await IetfClient.SendRawAsync(host, "PATCH", url, file[25..50], V(8), ("Upload-Complete", "?0"), ("Upload-Offset", "25"), ("Content-Type", IetfClient.PartialUpload));
        middle.Status.Should().Be(204, "{0}", middle);
        middle.Header("Upload-Complete").Should().Be("?0");

        // PATCH; Upload-Complete: ?1; … → 200 OK, Upload-Complete: ?1
        var last = await IetfClient.SendRawAsync(host, "PATCH", url, file[50..], V(8), ("Upload-Complete", "?1"), ("Upload-Offset", "50"), ("Content-Type", IetfClient.PartialUpload));
        last.Status.Should().Be(200, "{0}", last);
        last.Header("Upload-Complete").Should().Be("?1");

        // HEAD (complete upload) → 204 Upload-Complete: ?1, Upload-Offset = Upload-Length = 100, Cache-Control: no-store
        var done = await IetfClient.SendRawAsync(host, "HEAD", url, null, V(8));
        done.Status.Should().Be(204, "{0}", done);
        done.Header("Upload-Complete").Should().Be("?1");
        done.Header("Upload-Offset").Should().Be("100");
        done.Header("Upload-Length").Should().Be("100");
        done.Header("Cache-Control").Should().Be("no-store");
        (await host.Client.GetByteArrayAsync(url)).Should().Equal(file);

        // DELETE → 204 No Content
        var deleted = await IetfClient.SendRawAsync(host, "DELETE", url, null, V(8));
        deleted.Status.Should().Be(204);

        foreach (var response in new[] { created, head, middle, last, done, deleted })
        {
            response.Has("Upload-Incomplete").Should().BeFalse("{0}", response);
            (response.Header("Upload-Limit") ?? "").Should().NotContain("expires", "{0}", response);
        }
    }
}
