namespace ResumableUpload.Client.Tests.Infrastructure;

/// <summary>The protocol cases every client test runs: X-File-Id, tus, and IETF interop 6 and 8.</summary>
public enum Wire
{
    XFileId,
    Tus,
    Ietf6,
    Ietf8,
}

internal static class Clients
{
    public static ResumableUploadClientOptions Options(Wire protocol, Uri baseAddress) => new()
    {
        Endpoint = baseAddress,
        Protocol = protocol switch
        {
            Wire.XFileId => UploadProtocol.XFileId,
            Wire.Tus => UploadProtocol.Tus,
            _ => UploadProtocol.Ietf,
        },
        IetfInteropVersion = protocol == Wire.Ietf8 ? 8 : 6,
        ChunkSize = 1 << 20,
        MinimumChunkSize = 16 << 10,
        RetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromSeconds(2),
        StallTimeout = TimeSpan.FromSeconds(5),
    };

    public static string StorePath() => Path.Combine(Path.GetTempPath(), "ru-client-tests", "stores", Guid.NewGuid().ToString("N") + ".json");

    public static HttpClient Http() => new() { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Records every progress report synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    public sealed class ProgressLog(Action<UploadProgress>? onReport = null) : IProgress<UploadProgress>
    {
        public List<UploadProgress> Reports { get; } = [];

        public void Report(UploadProgress value)
        {
            lock (Reports)
            {
                Reports.Add(value);
            }

            onReport?.Invoke(value);
        }
    }
}
