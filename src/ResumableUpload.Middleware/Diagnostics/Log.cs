using Microsoft.Extensions.Logging;

namespace ResumableUpload.Middleware.Diagnostics;

/// <summary>Every log message of the package, with fixed event ids (documented in docs/configuration.md#logging).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Upload {UploadKey} created (length {Length}).", EventName = "UploadCreated")]
    public static partial void UploadCreated(ILogger logger, string uploadKey, long? length);

    [LoggerMessage(2, LogLevel.Debug, "Upload {UploadKey} resumed at offset {Offset}.", EventName = "UploadResumed")]
    public static partial void UploadResumed(ILogger logger, string uploadKey, long offset);

    [LoggerMessage(3, LogLevel.Information, "Upload {UploadKey} completed ({Length} bytes).", EventName = "UploadCompleted")]
    public static partial void UploadCompleted(ILogger logger, string uploadKey, long length);

    [LoggerMessage(4, LogLevel.Information, "The client of upload {UploadKey} went away at offset {Offset}; the bytes received are kept.", EventName = "ClientDisconnected")]
    public static partial void ClientDisconnected(ILogger logger, string uploadKey, long offset);

    [LoggerMessage(5, LogLevel.Debug, "Request refused with {StatusCode}: {Detail}", EventName = "RequestRefused")]
    public static partial void RequestRefused(ILogger logger, int statusCode, string detail);

    [LoggerMessage(6, LogLevel.Error, "A store failed while serving upload {UploadKey}.", EventName = "StoreFailed")]
    public static partial void StoreFailed(ILogger logger, string? uploadKey, Exception exception);

    [LoggerMessage(7, LogLevel.Information, "Upload {UploadKey} expired and was removed.", EventName = "UploadExpired")]
    public static partial void UploadExpired(ILogger logger, string uploadKey);

    [LoggerMessage(8, LogLevel.Error, "Removing expired uploads failed.", EventName = "ExpirationFailed")]
    public static partial void ExpirationFailed(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Error, "An upload event handler failed in {Event} for upload {UploadKey}.", EventName = "EventHandlerFailed")]
    public static partial void EventHandlerFailed(ILogger logger, string @event, string uploadKey, Exception exception);

    [LoggerMessage(10, LogLevel.Warning, "The state file {Path} is not valid JSON; it is treated as absent.", EventName = "CorruptStateFile")]
    public static partial void CorruptStateFile(ILogger logger, string path, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Could not publish the offset of upload {UploadKey} after a failed append; the stored offset stays at the last published value.", EventName = "PublishAfterFailureFailed")]
    public static partial void PublishAfterFailureFailed(ILogger logger, string uploadKey, Exception exception);

    [LoggerMessage(12, LogLevel.Debug, "Upload {UploadKey} restarted from byte 0.", EventName = "UploadRestarted")]
    public static partial void UploadRestarted(ILogger logger, string uploadKey);

    [LoggerMessage(13, LogLevel.Information, "Resumable uploads store their files in {Path}.", EventName = "FileSystemStoreRoot")]
    public static partial void FileSystemStoreRoot(ILogger logger, string path);

    [LoggerMessage(14, LogLevel.Warning, "A request writing upload {UploadKey} lost its lease to a newer holder; it stopped without publishing.", EventName = "LeaseLost")]
    public static partial void LeaseLost(ILogger logger, string? uploadKey);

    [LoggerMessage(15, LogLevel.Warning, "Upload {UploadKey} had {Length} bytes sealed by the data store but its completion was not recorded; the completion is recorded now.", EventName = "SealedCompletionRecorded")]
    public static partial void SealedCompletionRecorded(ILogger logger, string uploadKey, long length);

    [LoggerMessage(16, LogLevel.Information, "The body of a request writing upload {UploadKey} sent nothing for {IdleTimeout}; the request is ended and its bytes are kept.", EventName = "IdleRequestEnded")]
    public static partial void IdleRequestEnded(ILogger logger, string uploadKey, TimeSpan idleTimeout);

    [LoggerMessage(17, LogLevel.Debug, "Refused a request: {Bytes} bytes of its body were read and discarded so that the client receives the answer.", EventName = "RefusedBodyDrained")]
    public static partial void RefusedBodyDrained(ILogger logger, long bytes);
}
