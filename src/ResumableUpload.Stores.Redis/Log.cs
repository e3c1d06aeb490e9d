using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.Redis;

/// <summary>The package's log messages (event ids 1001-1099, names fixed so tests and dashboards can rely on them).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Error, "The Redis record of upload {Key} is not valid JSON; it is treated as absent.", EventName = "CorruptRecord")]
    public static partial void CorruptRecord(ILogger logger, string key, Exception exception);

    [LoggerMessage(1002, LogLevel.Warning, "Renewing the lease of upload {Key} (token {Token}) failed; trying again while the lease lasts.", EventName = "LeaseRenewalFailed")]
    public static partial void LeaseRenewalFailed(ILogger logger, string key, long token, Exception exception);

    [LoggerMessage(1003, LogLevel.Warning, "The lease of upload {Key} (token {Token}) was lost: {Reason}. Its holder is told to stop.", EventName = "LeaseLost")]
    public static partial void LeaseLost(ILogger logger, string key, long token, string reason);

    [LoggerMessage(1004, LogLevel.Debug, "Another instance asked for upload {Key}; the holder of token {Token} is told to let go.", EventName = "LeaseHandoverRequested")]
    public static partial void LeaseHandoverRequested(ILogger logger, string key, long token);

    [LoggerMessage(1005, LogLevel.Warning, "Releasing the lock of upload {Key} (token {Token}) failed; it frees itself when its lease runs out.", EventName = "LeaseReleaseFailed")]
    public static partial void LeaseReleaseFailed(ILogger logger, string key, long token, Exception exception);
}
