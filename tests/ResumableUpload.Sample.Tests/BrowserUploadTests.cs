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
