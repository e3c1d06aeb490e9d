using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>The store's log events (ids 1001–1099, category <c>ResumableUpload.Stores.AzureBlob.AzureBlobUploadDataStore</c>).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Debug, "Upload blob {BlobName} reopened at {Position} (asked {Offset}); {Ignored} staged block(s) past it are left out.", EventName = "AzureBlobReopened")]
    public static partial void Reopened(ILogger logger, string blobName, long position, long offset, int ignored);

    [LoggerMessage(1002, LogLevel.Debug, "Upload blob {BlobName} started afresh: its earlier blocks were dropped.", EventName = "AzureBlobDiscarded")]
    public static partial void Discarded(ILogger logger, string blobName);

    [LoggerMessage(1003, LogLevel.Debug, "Upload blob {BlobName} committed: {Blocks} block(s), {Length} bytes.", EventName = "AzureBlobCommitted")]
    public static partial void Committed(ILogger logger, string blobName, int blocks, long length);

    [LoggerMessage(1004, LogLevel.Warning, "Upload blob {BlobName} holds fewer bytes ({Held}) than its published offset ({Offset}); the engine will lower the offset.", EventName = "AzureBlobShorterThanPublished")]
    public static partial void ShorterThanPublished(ILogger logger, string blobName, long held, long offset);

    [LoggerMessage(1005, LogLevel.Information, "Upload blob {BlobName} was committed ({Length} bytes) but reopened at {Offset}: the committed bytes are kept, and the completion is recorded.", EventName = "AzureBlobSealedKept")]
    public static partial void SealedKept(ILogger logger, string blobName, long length, long offset);
}
