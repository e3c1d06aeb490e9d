using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>The log messages of the PostgreSQL stores (event ids 100-199, so they never collide with the middleware's).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, EventName = "LeaseRenewalFailed", Level = LogLevel.Warning, Message = "Renewing the lease of upload {Key} (token {Token}) failed; retrying while the lease lasts.")]
    public static partial void LeaseRenewalFailed(ILogger logger, string key, long token, Exception exception);

    [LoggerMessage(EventId = 101, EventName = "LeaseRevoked", Level = LogLevel.Information, Message = "The lease of upload {Key} (token {Token}) was revoked: {Reason}.")]
    public static partial void LeaseRevoked(ILogger logger, string key, long token, string reason);

    [LoggerMessage(EventId = 102, EventName = "LeaseReleaseFailed", Level = LogLevel.Warning, Message = "Releasing the lease of upload {Key} (token {Token}) failed; it runs out by itself.")]
    public static partial void LeaseReleaseFailed(ILogger logger, string key, long token, Exception exception);

    [LoggerMessage(EventId = 103, EventName = "ListenerFailed", Level = LogLevel.Warning, Message = "Listening for lease events on channel {Channel} failed; reconnecting in {Delay}. Handovers are noticed at the next renewal meanwhile.")]
    public static partial void ListenerFailed(ILogger logger, string channel, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 104, EventName = "MigrationApplied", Level = LogLevel.Information, Message = "Applied PostgreSQL migration {Migration} to schema {Schema}.")]
    public static partial void MigrationApplied(ILogger logger, string migration, string schema);
}
