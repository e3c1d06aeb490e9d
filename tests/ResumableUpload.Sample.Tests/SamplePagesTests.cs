using System.Net;

namespace ResumableUpload.Sample.Tests;

/// <summary>The sample serves its pages and their scripts from wwwroot.</summary>
[Collection(SharedSampleApp.Name)]
public sealed class SamplePagesTests(SampleAppFixture sample)
{
    [Theory]
    [InlineData("", "app.js")]
    [InlineData("index.html", "app.js")]
    [InlineData("classic.html", "classic-uploader.js")]
    public async Task Page_WhenRequested_IsServedAsHtmlThatLoadsItsScript(string path, string script)
    {
        using var response = await sample.Client.GetAsync(new Uri(path, UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType?.MediaType.Should().Be("text/html");
        var html = await response.Content.ReadAsStringAsync();
        html.Should().Contain($"src=\"{script}\"");
    }

    [Theory]
    [InlineData("app.js")]
    [InlineData("resumable-upload.js")]
    [InlineData("classic-uploader.js")]
    public async Task Script_WhenRequested_IsServedWithAJavaScriptMediaType(string path)
    {
        // Browsers refuse to run an ES module served with any other media type.
        using var response = await sample.Client.GetAsync(new Uri(path, UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType?.MediaType.Should().BeOneOf("text/javascript", "application/javascript");
    }

    [Fact]
    public async Task SamplePage_WhenRequested_LinksToTheClassicPageWithARelativeUrl()
    {
        var html = await sample.Client.GetStringAsync(new Uri("index.html", UriKind.Relative));

        html.Should().Contain("href=\"classic.html\"");
    }

    [Fact]
    public async Task PageScripts_WhenRead_UseOnlyRelativeProtocolUrls()
    {
        // The pages must work wherever the app is mounted, so they never ask for "/status" or "/upload".
        foreach (var script in new[] { "app.js", "resumable-upload.js", "classic-uploader.js" })
        {
            var source = await sample.Client.GetStringAsync(new Uri(script, UriKind.Relative));
            source.Should().NotContainAny(["'/status'", "'/upload'", "'/download", "\"/status\"", "\"/upload\"", "\"/download"],
                because: $"{script} must use relative URLs");
        }
    }
}
