using System.Net;
using System.Security.Cryptography;
using System.Globalization;
using Xunit.Abstractions;

namespace ResumableUpload.Sample.Tests;

/// <summary>
/// Real uploads from Debian's Chromium through the sample's pages: start, stop part-way, resume, finish;
/// then the stored file is downloaded and compared with the original.
/// </summary>
[Collection(SharedSampleApp.Name)]
public sealed class BrowserUploadTests(SampleAppFixture sample, ITestOutputHelper output)
{
    private const int FileSize = 24 * 1024 * 1024;

    [Fact]
    public void BrowserPrerequisites_OnThisMachine_AreInstalled()
    {
        BrowserDriver.MissingPrerequisites().Should().BeNull();
    }

    [Fact]
    public async Task ClassicPage_WhenStoppedMidwayAndResumed_StoresTheWholeFile()
    {
        var file = CreateRandomFile("classic");

        var run = await BrowserDriver.RunScenarioAsync(sample.BaseAddress, file, "classic");
        output.WriteLine(run.Describe());

        AssertStoppedAndResumed(run);
        await AssertStoredFileEqualsAsync(run.FileId, file);
    }

    [Fact]
    public async Task SamplePage_WhenPausedAndResumed_StoresTheWholeFileAndListsItsDownload()
    {
        var file = CreateRandomFile("sample page");
        var screenshot = Environment.GetEnvironmentVariable("E2E_SCREENSHOT");

        var run = await BrowserDriver.RunScenarioAsync(sample.BaseAddress, file, "index", string.IsNullOrEmpty(screenshot) ? null : screenshot);
        output.WriteLine(run.Describe());

        AssertStoppedAndResumed(run);
        run.Number("downloadedLength").Should().Be(FileSize, "the finished list's link downloads the whole file\n{0}", run.Describe());
        await AssertStoredFileEqualsAsync(run.FileId, file);
    }

    [Fact]
    public async Task SamplePage_WhenTheConnectionDropsMidway_RetriesByItselfAndStoresTheWholeFile()
    {
        var file = CreateRandomFile("dropped");

        var run = await BrowserDriver.RunScenarioAsync(sample.BaseAddress, file, "dropped");
        output.WriteLine(run.Describe());

        AssertStoppedAndResumed(run);
        run.String("messageWhileDown").Should().Contain("Retrying", "the row tells that it will retry\n{0}", run.Describe());
        await AssertStoredFileEqualsAsync(run.FileId, file);
    }

    [Fact]
    public async Task TusPage_WhenPausedReloadedAndResumed_StoresTheWholeFileAtItsUploadUrl()
    {
        // tus.html needs tus-js-client's browser bundle, which the sample's build copies from its node_modules.
        var bundle = Path.Combine(AppContext.BaseDirectory, "wwwroot", "lib", "tus.min.js");
        if (!File.Exists(bundle))
        {
            Assert.Fail(
                $"tus-js-client's browser bundle is not in the build output ({bundle}), so tus.html cannot upload. " +
                "Run `npm ci` in samples/ResumableUpload.Sample, then build again (the sample's build copies " +
                "node_modules/tus-js-client/dist/tus.min.js into wwwroot/lib/).");
        }

        var file = CreateRandomFile("tus");

        var run = await BrowserDriver.RunScenarioAsync(sample.BaseAddress, file, "tus");
        output.WriteLine(run.Describe());

        run.Ok.Should().BeTrue("the browser scenario should pass: {0}\n{1}", run.Error, run.Describe());
        run.ExitCode.Should().Be(0, run.Describe());
        run.String("missingBundleMessage").Should().Contain("run npm ci in samples/ResumableUpload.Sample to enable this page",
            "without tus-js-client the page tells how to enable it\n{0}", run.Describe());
        run.Number("size").Should().Be(FileSize);
        run.Number("storedAfterStop").Should().BeInRange(1, FileSize - 1, "a pause part-way leaves part of the file stored\n{0}", run.Describe());
        run.Number("resumedFrom").Should().Be(run.Number("storedAfterStop"), "Resume sends only what the server is missing");
        run.Number("storedAtReload").Should().BeInRange(run.Number("storedAfterStop") + 1, FileSize - 1, run.Describe());
        run.Number("resumedAfterReloadFrom").Should().Be(run.Number("storedAtReload"), "after a reload the page carries on with the same upload");
        run.Number("downloadStatusWhileIncomplete").Should().Be(404, "an unfinished upload cannot be downloaded");
        run.Number("finalStored").Should().Be(FileSize);
        run.Number("downloadedLength").Should().Be(FileSize, "the row's download link gives the whole file\n{0}", run.Describe());

        var uploadUrl = new Uri(run.String("uploadUrl") ?? throw new InvalidOperationException("The result has no uploadUrl." + Environment.NewLine + run.Describe()));
        uploadUrl.GetLeftPart(UriPartial.Authority).Should().Be(sample.BaseAddress.GetLeftPart(UriPartial.Authority));
        uploadUrl.AbsolutePath.Should().MatchRegex("^/[0-9a-f]{32}$", "the sample's tus uploads live at /<32 hex digits>");

        using (var head = new HttpRequestMessage(HttpMethod.Head, uploadUrl))
        {
            head.Headers.Add("Tus-Resumable", "1.0.0");
            using var headResponse = await sample.Client.SendAsync(head);
            headResponse.StatusCode.Should().Be(HttpStatusCode.OK);
            headResponse.Headers.GetValues("Upload-Offset").Should().Equal(FileSize.ToString(CultureInfo.InvariantCulture));
        }

        using var response = await sample.Client.GetAsync(uploadUrl, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK, "the finished tus upload {0} can be downloaded", uploadUrl);
        response.Content.Headers.ContentLength.Should().Be(FileSize);
        await AssertSameBytesAsync(response, file);
    }

    private static void AssertStoppedAndResumed(BrowserRun run)
    {
        run.Ok.Should().BeTrue("the browser scenario should pass: {0}\n{1}", run.Error, run.Describe());
        run.ExitCode.Should().Be(0, run.Describe());
        run.Number("size").Should().Be(FileSize);
        run.Number("storedAfterStop").Should().BeInRange(1, FileSize - 1, "a stop part-way leaves part of the file stored\n{0}", run.Describe());
        run.Number("resumedFrom").Should().Be(run.Number("storedAfterStop"), "resuming sends only what the server is missing");
        run.Number("downloadStatusWhileIncomplete").Should().Be(404, "an unfinished upload cannot be downloaded");
        run.Number("finalStored").Should().Be(FileSize);
    }

    private async Task AssertStoredFileEqualsAsync(string fileId, string originalPath)
    {
        using (var status = new HttpRequestMessage(HttpMethod.Get, new Uri("status", UriKind.Relative)))
        {
            status.Headers.Add("X-File-Id", fileId);
            using var statusResponse = await sample.Client.SendAsync(status);
            statusResponse.StatusCode.Should().Be(HttpStatusCode.OK);
            (await statusResponse.Content.ReadAsStringAsync()).Trim().Should().Be(FileSize.ToString(CultureInfo.InvariantCulture));
        }

        using var response = await sample.Client.GetAsync(
            new Uri("download?fileId=" + Uri.EscapeDataString(fileId), UriKind.Relative),
            HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK, "the finished upload {0} can be downloaded", fileId);
        response.Content.Headers.ContentLength.Should().Be(FileSize);
        await AssertSameBytesAsync(response, originalPath);
    }

    private static async Task AssertSameBytesAsync(HttpResponseMessage response, string originalPath)
    {
        await using var downloaded = await response.Content.ReadAsStreamAsync();
        var downloadedHash = await SHA256.HashDataAsync(downloaded);
        await using var original = File.OpenRead(originalPath);
        var originalHash = await SHA256.HashDataAsync(original);

        Convert.ToHexString(downloadedHash).Should().Be(Convert.ToHexString(originalHash), "the stored file is byte for byte the uploaded one");
    }

    private string CreateRandomFile(string label)
    {
        var path = Path.Combine(sample.WorkDirectory, $"{label} {Guid.NewGuid():N}.bin");
        var bytes = new byte[FileSize];
        Random.Shared.NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
