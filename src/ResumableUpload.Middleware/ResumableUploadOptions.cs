namespace ResumableUpload.Middleware;

/// <summary>
/// Options of the resumable-upload engine and its protocol fronts, bound from the <c>ResumableUploads</c>
/// configuration section and validated at start-up. Every option has a safe default.
/// </summary>
public sealed class ResumableUploadOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ResumableUploads";

    /// <summary>The largest upload accepted, in bytes. Default: 1 GiB (1073741824). Must be positive.</summary>
    public long MaxUploadSize { get; set; } = 1L << 30;

    /// <summary>The longest upload id accepted, in UTF-8 bytes. Default: 1024. Must be between 1 and 8192.</summary>
    public int MaxFileIdLength { get; set; } = 1024;

    /// <summary>
    /// How long a request waits for another request that is writing the same upload before it is answered
    /// <c>423 Locked</c>. Default: 2 seconds. Must be between 0 and 5 minutes.
    /// </summary>
    public TimeSpan LockWaitTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The per-request idle timeout of a body: a request writing an upload whose body has sent no bytes for this long
    /// is ended (its bytes so far are published and kept, its lock released, its connection closed), whether or not
    /// another request asks for the upload, and a newer request for the same upload in the same process ends it at
    /// once. This frees an upload held by a client that vanished without closing its connection, on whichever
    /// instance it runs, much sooner than <see cref="MinimumBodyDataRate"/> would (Kestrel averages that rate over the
    /// whole body). The client resumes from the published offset. Default: 5 seconds. Must be between 1 second and 1 hour.
    /// </summary>
    public TimeSpan StalledWriterTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// When a request with a body is refused (409 wrong start byte, 413, 423, ...), at most this many bytes of the rest
    /// of its body are read and discarded after the answer is sent, so that a client or proxy still sending the body
    /// receives the answer instead of a connection reset (nginx answers 502 when the upstream closes while it is still
    /// sending). A longer body, or one that does not end within <see cref="RefusedBodyDrainTimeout"/>, is cut off by
    /// closing the connection. 0 closes at once. Default: 64 MiB (67108864). Must be between 0 and 1 GiB.
    /// </summary>
    public long RefusedBodyDrainLimit { get; set; } = 64L << 20;

    /// <summary>
    /// How long the rest of a refused request's body is read and discarded at most (see <see cref="RefusedBodyDrainLimit"/>).
    /// Default: 10 seconds. Must be between 0 and 5 minutes.
    /// </summary>
    public TimeSpan RefusedBodyDrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long an unfinished upload is kept after its last bytes arrived. Default: 24 hours. Must be positive.
    /// </summary>
    public TimeSpan IncompleteUploadExpiration { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a finished upload keeps answering its size (so a retrying client does not send it again) and
    /// stays downloadable. Default: 24 hours. Must be positive.
    /// </summary>
    public TimeSpan CompletedUploadRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often the background service removes expired uploads. Default: 5 minutes. Must be between 1 second and 30 days. Read when the host starts.</summary>
    public TimeSpan ExpirationScanInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How bytes are made durable before the offset that counts them is published. Default:
    /// <see cref="UploadDurability.Flush"/> (survives a process kill; an operating-system crash may lose the
    /// last bytes, and the offset is then rebuilt lower, never higher).
    /// </summary>
    public UploadDurability Durability { get; set; } = UploadDurability.Flush;

    /// <summary>
    /// While a body streams in, the offset is published (made visible to status queries and to a restarted
    /// host) each time this many more bytes are durable. Default: 1 MiB (1048576). Must be at least 4096.
    /// </summary>
    public int ProgressPublishInterval { get; set; } = 1 << 20;

    /// <summary>
    /// The minimum request-body data rate in bytes per second, so a slow or silent client cannot hold an
    /// upload's lock forever (applied per request where the server supports it, as Kestrel does).
    /// Default: 240. 0 turns the check off.
    /// </summary>
    public double MinimumBodyDataRate { get; set; } = 240;

    /// <summary>The grace period before <see cref="MinimumBodyDataRate"/> is enforced. Default: 10 seconds. Must be longer than 1 second (Kestrel's check interval).</summary>
    public TimeSpan MinimumBodyDataRateGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether finished uploads can be downloaded (<c>GET {prefix}/download</c>, with <c>Range</c> support), under
    /// the same partition rules. Default: <see langword="false"/>.
    /// </summary>
    public bool EnableDownload { get; set; }

    /// <summary>
    /// Whether the tus 1.0 protocol is served next to the X-File-Id protocol: creation at <c>{prefix}</c> (requests
    /// carrying <c>Tus-Resumable</c>, and <c>OPTIONS</c>), uploads at <c>{prefix}/{id}</c>. Default: <see langword="true"/>.
    /// </summary>
    public bool EnableTus { get; set; } = true;

    /// <summary>
    /// Whether the IETF "Resumable Uploads for HTTP" draft (interop versions 3 to 8) is served: creation at
    /// <c>{prefix}</c> (requests carrying <c>Upload-Draft-Interop-Version</c>, <c>Upload-Complete</c> or
    /// <c>Upload-Incomplete</c>), upload resources at <c>{prefix}/{id}</c>. Default: <see langword="true"/>.
    /// </summary>
    public bool EnableIetf { get; set; } = true;

    /// <summary>
    /// The partition of requests without an authenticated user. Default: <c>anonymous</c>. All anonymous clients
    /// share it, so hosts that serve anonymous users should scope ids some other way (for example a custom
    /// <see cref="IUploadPartitionResolver"/> that reads a session).
    /// </summary>
    public string AnonymousPartition { get; set; } = "anonymous";
}

/// <summary>How bytes are made durable before their offset is published.</summary>
public enum UploadDurability
{
    /// <summary>Bytes are handed to the operating system before the offset is published: they survive a process kill.</summary>
    Flush = 0,

    /// <summary>Bytes are flushed to the disk (fsync) before the offset is published: they survive a power loss. Slower.</summary>
    FSync = 1,
}
