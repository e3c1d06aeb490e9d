namespace ResumableUpload.Client;

/// <summary>Options of a <see cref="ResumableUploadClient"/>. Every option has a default.</summary>
public sealed class ResumableUploadClientOptions
{
    /// <summary>
    /// The upload endpoint: the tus / IETF creation URL (for example <c>https://host/files</c>), or for the X-File-Id
    /// protocol the prefix under which <c>status</c> and <c>upload</c> live (for example <c>https://host/</c>).
    /// Relative to <see cref="HttpClient.BaseAddress"/> when relative. Default: <see langword="null"/>, the client's
    /// base address.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>The wire protocol. Default: <see cref="UploadProtocol.Tus"/>.</summary>
    public UploadProtocol Protocol { get; set; } = UploadProtocol.Tus;

    /// <summary>
    /// The IETF draft's interop version (<c>Upload-Draft-Interop-Version</c>), 5 to 9. Default: 6 (draft-04/-05, the one
    /// tus-js-client and iOS 18.1 speak).
    /// </summary>
    public int IetfInteropVersion { get; set; } = 6;

    /// <summary>
    /// The largest body of one request, in bytes. The client lowers it by itself after a <c>413</c> (down to
    /// <see cref="MinimumChunkSize"/>) and to the server's <c>Upload-Limit: max-append-size</c>. Default: 8 MiB.
    /// </summary>
    public long ChunkSize { get; set; } = 8L << 20;

    /// <summary>The size below which a <c>413</c> no longer shrinks the chunk but fails the upload. Default: 64 KiB.</summary>
    public long MinimumChunkSize { get; set; } = 64L << 10;

    /// <summary>
    /// Retries of one step (offset query plus one request) before the upload fails; a step that moved the offset
    /// forward starts a fresh count. Default: 10.
    /// </summary>
    public int MaxRetryAttempts { get; set; } = 10;

    /// <summary>The first retry delay; later ones grow exponentially, with jitter. Default: 500 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest retry delay, also the cap on a server's <c>Retry-After</c>. Default: 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// No byte accepted by the connection for this long aborts the request, which is then retried from the server's
    /// offset. After the body of a chunk that does not complete the upload, the response must also begin within this
    /// time. Default: 30 s.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long to wait for the response to the request that completes the upload, once its body is sent (the server
    /// may process the file before it answers), and for the small requests (offset query, creation). Default: 2 minutes.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Sends a SHA-256 of each chunk where the protocol has a place for it: tus <c>Upload-Checksum</c> (when the server
    /// lists <c>sha256</c>), IETF <c>Content-Digest</c>. The X-File-Id protocol has none. Default: on.
    /// </summary>
    public bool Checksums { get; set; } = true;

    /// <summary>
    /// Keeps the upload's state (its URL) in the <see cref="IUploadResumeStore"/>, so a new process resumes it.
    /// Default: on.
    /// </summary>
    public bool StoreResumeState { get; set; } = true;

    /// <summary>Extra tus <c>Upload-Metadata</c> pairs (besides <c>filename</c> and <c>filetype</c>). Default: none.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    internal void Validate()
    {
        if (ChunkSize < 1 || MinimumChunkSize < 1 || MinimumChunkSize > ChunkSize)
        {
            throw new ArgumentException($"ChunkSize ({ChunkSize}) and MinimumChunkSize ({MinimumChunkSize}) must be positive, with MinimumChunkSize <= ChunkSize.");
        }

        if (IetfInteropVersion is < 5 or > 9)
        {
            throw new ArgumentException($"IetfInteropVersion {IetfInteropVersion} is not supported; use 5 to 9.");
        }

        if (MaxRetryAttempts < 0 || RetryDelay < TimeSpan.Zero || MaxRetryDelay < RetryDelay || StallTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("MaxRetryAttempts must be >= 0, RetryDelay <= MaxRetryDelay, and the timeouts positive.");
        }
    }
}
