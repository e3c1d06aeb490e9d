using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Security;

/// <summary>Client-chosen ids are untrusted strings: they never become paths, whatever they look like.</summary>
public sealed partial class HostileIdTests
{
    private const string AnonymousPartition = "anonymous:anonymous";

    private static readonly Dictionary<string, string> HostileIds = new()
    {
        ["unix-traversal"] = "../../x",
        ["windows-traversal"] = "..\\..\\x",
        ["absolute-unix-path"] = "/etc/passwd",
        ["absolute-windows-path"] = "C:\\Windows\\win.ini",
        ["percent-encoded-traversal"] = "%2e%2e%2f",
        ["nested-segments"] = "a/b/c",
        ["single-dot"] = ".",
        ["double-dot"] = "..",
        ["longest-allowed"] = new string('a', 1024),
        ["unicode"] = "файл-😀-名前",
    };

    public static TheoryData<string> HostileIdNames => new(HostileIds.Keys);

    [GeneratedRegex(@"^(state/(?<p>[0-9a-f]{2})/(?<k>[0-9a-f]{64})\.json|data/(?<p>[0-9a-f]{2})/(?<k>[0-9a-f]{64})\.bin)$")]
    private static partial Regex StoreFileLayout();

    [Theory]
    [MemberData(nameof(HostileIdNames))]
    public async Task Upload_HostileId_IsStoredUnderDerivedKeyAndReadsBack(string name)
    {
        var id = HostileIds[name];
        var sandbox = UploadTestHost.CreateTempDirectory();
        var storageRoot = Path.Combine(sandbox, "store");
        var outside = Path.GetDirectoryName(sandbox)!;
        var sandboxBefore = ListEntries(sandbox);
        try
        {
            await using (var host = await UploadTestHost.StartAsync(storageRoot: storageRoot))
            {
                var file = Protocol.RandomBytes(3_000, seed: name.Length);

                using (var first = await host.Client.UploadAsync(id, file.AsMemory(0, 1_000), startByte: 0, fileSize: file.Length))
                {
                    first.StatusCode.Should().Be(HttpStatusCode.OK);
                }

                (await host.Client.GetStatusAsync(id)).Should().Be(1_000);
                using (var rest = await host.Client.UploadAsync(id, file.AsMemory(1_000), startByte: 1_000, fileSize: file.Length))
                {
                    rest.StatusCode.Should().Be(HttpStatusCode.OK);
                }

                (await host.Client.GetStatusAsync(id)).Should().Be(file.Length);
                (await host.Client.DownloadAsync(id)).Should().Equal(file);

                var key = UploadKeys.Create(AnonymousPartition, id);
                var storeFiles = ListTree(storageRoot);
                storeFiles.Should().BeEquivalentTo(
                    [$"state/{key[..2]}/{key}.json", $"data/{key[..2]}/{key}.bin"],
                    "the id {0} must only be hashed into a key, never used as a path", name);
                AssertStoreLayout(storageRoot);

                // The id arrives exactly as sent (UTF-8 decoded) and is kept only as data inside the record.
                using var state = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(storageRoot, "state", key[..2], key + ".json")));
                state.RootElement.GetProperty("fileId").GetString().Should().Be(id);
            }

            ListEntries(sandbox).Where(p => p != "store" && !p.StartsWith("store/", StringComparison.Ordinal))
                .Should().BeEquivalentTo(sandboxBefore, "nothing may be created next to the storage root");
            foreach (var leaf in new[] { "x", "passwd", "win.ini", "c", "%2e%2e%2f" })
            {
                Path.Exists(Path.Combine(outside, leaf)).Should().BeFalse("{0} must not escape to {1}", name, outside);
                Path.Exists(Path.Combine(AppContext.BaseDirectory, leaf)).Should().BeFalse("{0} must not land in the content root", name);
            }
        }
        finally
        {
            UploadTestHost.TryDeleteDirectory(sandbox);
        }
    }

    [Theory]
    [InlineData("unix-traversal")]
    [InlineData("absolute-unix-path")]
    [InlineData("percent-encoded-traversal")]
    [InlineData("unicode")]
    public async Task Download_HostileIdInQueryString_ReadsTheSameUpload(string name)
    {
        var id = HostileIds[name];
        await using var host = await UploadTestHost.StartAsync();
        var file = Protocol.RandomBytes(777);
        (await host.Client.UploadAsync(id, file)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var response = await host.Client.GetAsync("download?fileId=" + Uri.EscapeDataString(id));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsByteArrayAsync()).Should().Equal(file);
        AssertStoreLayout(host.StorageRoot);
    }

    [Fact]
    public async Task Upload_IdOneByteOverMaxFileIdLength_Is400NamingXFileIdAndStoresNothing()
    {
        await using var host = await UploadTestHost.StartAsync();
        var id = new string('a', 1025);

        using var response = await host.Client.UploadAsync(id, Protocol.RandomBytes(100));

        await AssertInvalidFileIdProblemAsync(response);
        ListTree(host.StorageRoot).Should().BeEmpty();
    }

    [Fact]
    public async Task Upload_MultiByteIdOverMaxFileIdLengthInUtf8Bytes_Is400()
    {
        await using var host = await UploadTestHost.StartAsync();

        // 342 characters but 1026 UTF-8 bytes: the limit counts bytes, not characters.
        var id = string.Concat(Enumerable.Repeat("名", 342));
        Encoding.UTF8.GetByteCount(id).Should().BeGreaterThan(1024);

        using var response = await host.Client.UploadAsync(id, Protocol.RandomBytes(100));

        await AssertInvalidFileIdProblemAsync(response);
        ListTree(host.StorageRoot).Should().BeEmpty();
    }

    [Fact]
    public async Task Status_IdOneByteOverMaxFileIdLength_Is400NamingXFileId()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.TryAddWithoutValidation("X-File-Id", new string('b', 1025));

        using var response = await host.Client.SendAsync(request);

        await AssertInvalidFileIdProblemAsync(response);
    }

    [Fact]
    public async Task Upload_IdWithControlCharacter_Is400NamingXFileIdAndStoresNothing()
    {
        await using var host = await UploadTestHost.StartAsync();

        using var response = await host.Client.UploadAsync("bad\u0001id", Protocol.RandomBytes(100));

        await AssertInvalidFileIdProblemAsync(response);
        ListTree(host.StorageRoot).Should().BeEmpty();
    }

    [Fact]
    public async Task Status_NulByteInFileIdOverRawSocket_Is4xxAndServerKeepsAnswering()
    {
        await using var host = await UploadTestHost.StartAsync();

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "GET", "/status", ("X-File-Id", "a\0b"));
            var status = await RawHttp.ReadStatusCodeAsync(stream);
            status.Should().BeInRange(400, 499, "a NUL byte is a client error, never a server error");
        }

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "../\0/etc"), ("Content-Length", "0"));
            var status = await RawHttp.ReadStatusCodeAsync(stream);
            status.Should().BeInRange(400, 499);
        }

        (await host.Client.GetStatusAsync("after-nul")).Should().Be(0, "the server still answers the next request");
        using (var upload = await host.Client.UploadAsync("after-nul", Protocol.RandomBytes(10)))
        {
            upload.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        ListTree(host.StorageRoot).Should().HaveCount(2, "only the valid upload is stored");
        AssertStoreLayout(host.StorageRoot);
    }

    [Fact]
    public async Task Upload_IdsDifferingOnlyInCase_AreDifferentUploads()
    {
        await using var host = await UploadTestHost.StartAsync();
        var upper = Protocol.RandomBytes(300, seed: 1);
        var lower = Protocol.RandomBytes(500, seed: 2);

        (await host.Client.UploadAsync("Report.PDF", upper)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync("report.pdf")).Should().Be(0, "ids compare byte-exact, not case-insensitively");
        (await host.Client.UploadAsync("report.pdf", lower)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await host.Client.GetStatusAsync("Report.PDF")).Should().Be(300);
        (await host.Client.GetStatusAsync("report.pdf")).Should().Be(500);
        (await host.Client.DownloadAsync("Report.PDF")).Should().Equal(upper);
        (await host.Client.DownloadAsync("report.pdf")).Should().Equal(lower);
        ListTree(host.StorageRoot).Should().HaveCount(4);
    }

    [Fact]
    public async Task Upload_IdsDifferingOnlyInUnicodeNormalization_AreDifferentUploads()
    {
        await using var host = await UploadTestHost.StartAsync();
        var composed = "caf\u00E9.txt";
        var decomposed = "cafe\u0301.txt";
        composed.Normalize(NormalizationForm.FormC).Should().Be(decomposed.Normalize(NormalizationForm.FormC), "the two ids look the same");
        var composedBytes = Protocol.RandomBytes(200, seed: 3);
        var decomposedBytes = Protocol.RandomBytes(700, seed: 4);

        (await host.Client.UploadAsync(composed, composedBytes)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync(decomposed)).Should().Be(0, "ids are not normalized before comparison");
        (await host.Client.UploadAsync(decomposed, decomposedBytes)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await host.Client.GetStatusAsync(composed)).Should().Be(200);
        (await host.Client.GetStatusAsync(decomposed)).Should().Be(700);
        (await host.Client.DownloadAsync(composed)).Should().Equal(composedBytes);
        (await host.Client.DownloadAsync(decomposed)).Should().Equal(decomposedBytes);
        ListTree(host.StorageRoot).Should().HaveCount(4);
        AssertStoreLayout(host.StorageRoot);
    }

    private static async Task AssertInvalidFileIdProblemAsync(HttpResponseMessage response)
    {
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().Should().Be(400);
        problem.RootElement.GetProperty("header").GetString().Should().Be("X-File-Id");
        problem.RootElement.GetProperty("detail").GetString().Should().NotBeNullOrWhiteSpace();
    }

    private static void AssertStoreLayout(string storageRoot)
    {
        foreach (var file in ListTree(storageRoot))
        {
            var match = StoreFileLayout().Match(file);
            match.Success.Should().BeTrue("{0} must be state/xx/<64 hex>.json or data/xx/<64 hex>.bin", file);
            match.Groups["k"].Value.Should().StartWith(match.Groups["p"].Value, "the fan-out directory is the key's first two characters");
        }
    }

    /// <summary>Every file and directory under <paramref name="root"/>, relative, with '/' separators.</summary>
    private static List<string> ListEntries(string root)
        => Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Every file under <paramref name="root"/>, relative, with '/' separators.</summary>
    private static List<string> ListTree(string root)
        => Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(root, p).Replace(Path.DirectorySeparatorChar, '/'))
                .Order(StringComparer.Ordinal)
                .ToList()
            : [];
}
