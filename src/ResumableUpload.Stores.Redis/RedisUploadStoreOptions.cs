namespace ResumableUpload.Stores.Redis;

/// <summary>
/// Options of the Redis upload state store and lock provider, bound from the <c>ResumableUploads:Redis</c>
/// configuration section and validated at start-up.
/// </summary>
public sealed class RedisUploadStoreOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ResumableUploads:Redis";

    /// <summary>
    /// The StackExchange.Redis configuration string, for example <c>redis.internal:6379,password=...,ssl=true</c>.
    /// Required, unless the host supplies its own connection. The package connects with <c>abortConnect=false</c>
    /// whatever the string says (it reconnects in the background). Default: <see langword="null"/>.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// Put before every key and channel name this package uses, so several applications (or environments) can share
    /// one Redis database. Must not be empty. Default: <c>resumable-uploads:</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = "resumable-uploads:";

    /// <summary>
    /// How long an upload lock stays valid without renewal. The holder renews it every third of this; a holder that
    /// dies loses it this long after its last renewal. At least 1 second. Default: 30 seconds.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often a request waiting for a held upload lock tries again (a release on any instance also wakes it at
    /// once). Between 1 millisecond and 10 seconds. Default: 100 milliseconds.
    /// </summary>
    public TimeSpan LockPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}
