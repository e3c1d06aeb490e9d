using System.Net;
using System.Text.RegularExpressions;

namespace ResumableUpload.Sample.Tests;

/// <summary>The sample serves its pages and their scripts from wwwroot.</summary>
[Collection(SharedSampleApp.Name)]
public sealed class SamplePagesTests(SampleAppFixture sample)
{
    [Theory]
    [InlineData("", "app.js")]
    [InlineData("index.html", "app.js")]
    [InlineData("classic.html", "classic-uploader.js")]
    [InlineData("tus.html", "tus-app.js")]
    [InlineData("tus.html", "lib/tus.min.js")]
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
    [InlineData("tus-app.js")]
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
    public async Task SamplePage_WhenRequested_LinksToTheTusPageWithARelativeUrl()
    {
        var html = await sample.Client.GetStringAsync(new Uri("index.html", UriKind.Relative));

        html.Should().Contain("href=\"tus.html\"");
    }

    [Fact]
    public async Task TusPage_WhenRead_SaysHowToEnableItWithoutTusJsClient()
    {
        // Shown by tus-app.js when lib/tus.min.js did not load (the sample was built without `npm ci`).
        var html = await sample.Client.GetStringAsync(new Uri("tus.html", UriKind.Relative));

        html.Should().Contain("id=\"tus-missing\"");
        var text = Regex.Replace(Regex.Replace(html, "<[^>]+>", string.Empty), @"\s+", " ");
        text.Should().Contain("run npm ci in samples/ResumableUpload.Sample to enable this page");
    }

    [Fact]
    public async Task TusJsClientBundle_AfterNpmCiAndBuild_IsServedFromLib()
    {
        // The sample's build copies node_modules/tus-js-client/dist/tus.min.js into its output's wwwroot/lib/.
        using var response = await sample.Client.GetAsync(new Uri("lib/tus.min.js", UriKind.Relative));

        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            Assert.Fail(
                "lib/tus.min.js (tus-js-client's browser bundle, needed by tus.html) is not in the sample's build output " +
                $"({Path.Combine(AppContext.BaseDirectory, "wwwroot", "lib")}). " +
                "Run `npm ci` in samples/ResumableUpload.Sample, then build again.");
        }

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType?.MediaType.Should().BeOneOf("text/javascript", "application/javascript");
        (await response.Content.ReadAsStringAsync()).Should().Contain(".tus=", "it is tus-js-client's UMD bundle, which defines window.tus");
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
