using Microsoft.AspNetCore.Builder;

namespace ResumableUpload.Sample.Tests;

/// <summary>
/// The sample application, started once for the tests of the <see cref="SharedSampleApp"/> on a free
/// loopback port, with its uploads stored in a temporary directory that is deleted afterwards.
/// </summary>
public sealed class SampleAppFixture : IAsyncLifetime
{
    private WebApplication? _app;

    /// <summary>Where the sample listens, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The directory the sample stores uploads in.</summary>
    public string StorageRoot { get; private set; } = null!;

    /// <summary>A directory for the files the tests upload.</summary>
    public string WorkDirectory { get; private set; } = null!;

    /// <summary>A client for the sample, with <see cref="BaseAddress"/> set.</summary>
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        StorageRoot = Directory.CreateTempSubdirectory("resumable-upload-sample-store-").FullName;
        WorkDirectory = Directory.CreateTempSubdirectory("resumable-upload-sample-files-").FullName;

        _app = SampleApp.Create(
        [
            "--urls=http://127.0.0.1:0",
            "--ResumableUploads:FileSystem:RootPath=" + StorageRoot,
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _app.StartAsync();

        var address = _app.Urls.FirstOrDefault(url => url.StartsWith("http://", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("The sample did not report an http address: " + string.Join(", ", _app.Urls));
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var directory in new[] { StorageRoot, WorkDirectory })
        {
            try
            {
                if (directory is not null && Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
            catch (IOException)
            {
                // A leftover temporary directory is not worth failing the run for.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>The test collection whose tests share one running sample application (and so run one after the other).</summary>
[CollectionDefinition(Name)]
public sealed class SharedSampleApp : ICollectionFixture<SampleAppFixture>
{
    public const string Name = "Sample app";
}
