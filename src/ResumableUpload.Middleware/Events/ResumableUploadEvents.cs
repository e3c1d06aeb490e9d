using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware;

/// <summary>
/// Receives upload events. Derive from it, override what you need and register it with
/// <c>AddEvents&lt;T&gt;()</c> on the builder returned by <c>AddResumableUploads</c>; several handlers may be
/// registered and run in registration order. Handlers are singletons.
/// </summary>
public abstract class ResumableUploadEvents
{
    /// <summary>Runs before every request is served (status, append, download). Call <see cref="UploadEventContext.Reject"/> to refuse it.</summary>
    public virtual ValueTask OnAuthorizingAsync(UploadAuthorizingContext context) => ValueTask.CompletedTask;

    /// <summary>Runs before an upload is created or restarted from byte 0. Call <see cref="UploadEventContext.Reject"/> to refuse it (for example when the size is not allowed).</summary>
    public virtual ValueTask OnCreatingAsync(UploadCreatingContext context) => ValueTask.CompletedTask;

    /// <summary>Runs each time a new offset has been published while bytes arrive.</summary>
    public virtual ValueTask OnProgressAsync(UploadProgressContext context) => ValueTask.CompletedTask;

    /// <summary>Runs once when an upload has all its bytes. The bytes can be read (and copied elsewhere) here.</summary>
    public virtual ValueTask OnCompletedAsync(UploadCompletedContext context) => ValueTask.CompletedTask;

    /// <summary>Runs after an upload's record and bytes were removed (expired, or deleted by a protocol).</summary>
    public virtual ValueTask OnDeletedAsync(UploadDeletedContext context) => ValueTask.CompletedTask;
}

/// <summary>What a request wants to do with an upload.</summary>
public enum UploadOperation
{
    /// <summary>Ask how many bytes are stored.</summary>
    Status,

    /// <summary>Send bytes (create, restart or resume).</summary>
    Append,

    /// <summary>Read a finished upload's bytes.</summary>
    Download,

    /// <summary>Remove an upload (tus termination).</summary>
    Delete,
}

/// <summary>Why an upload was removed.</summary>
public enum UploadDeletionReason
{
    /// <summary>It expired (see the expiration options).</summary>
    Expired,

    /// <summary>A client or the host deleted it.</summary>
    Deleted,
}

/// <summary>Common members of the event contexts.</summary>
public abstract class UploadEventContext
{
    private protected UploadEventContext(HttpContext? httpContext, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        CancellationToken = cancellationToken;
    }

    /// <summary>The request that caused the event, or <see langword="null"/> for background work such as expiry.</summary>
    public HttpContext? HttpContext { get; }

    /// <summary>
    /// Cancelled when the request is aborted (authorizing and creating events). Progress, completed and deleted
    /// events run after the bytes are safe and get a token the client cannot cancel.
    /// </summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Whether a handler rejected the operation.</summary>
    public bool IsRejected { get; private set; }

    /// <summary>The status code of the rejection (4xx).</summary>
    public int RejectionStatusCode { get; private set; }

    /// <summary>The human-readable reason of the rejection, sent as the problem-details <c>detail</c>.</summary>
    public string? RejectionDetail { get; private set; }

    /// <summary>Refuses the operation with a 4xx status code (403 by default) and an optional reason.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="statusCode"/> is not between 400 and 499.</exception>
    public void Reject(int statusCode = StatusCodes.Status403Forbidden, string? detail = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 499);
        IsRejected = true;
        RejectionStatusCode = statusCode;
        RejectionDetail = detail;
    }
}

/// <summary>Context of <see cref="ResumableUploadEvents.OnAuthorizingAsync"/>.</summary>
public sealed class UploadAuthorizingContext : UploadEventContext
{
    internal UploadAuthorizingContext(HttpContext httpContext, UploadOperation operation, string partition, string fileId)
        : base(httpContext, httpContext.RequestAborted)
    {
        Operation = operation;
        Partition = partition;
        FileId = fileId;
    }

    /// <summary>What the request wants to do.</summary>
    public UploadOperation Operation { get; }

    /// <summary>The partition the request was resolved to.</summary>
    public string Partition { get; }

    /// <summary>The client-chosen upload id.</summary>
    public string FileId { get; }
}

/// <summary>Context of <see cref="ResumableUploadEvents.OnCreatingAsync"/>.</summary>
public sealed class UploadCreatingContext : UploadEventContext
{
    internal UploadCreatingContext(HttpContext? httpContext, string partition, string fileId, long? length, IReadOnlyDictionary<string, string> metadata, bool isRestart, CancellationToken cancellationToken)
        : base(httpContext, cancellationToken)
    {
        Partition = partition;
        FileId = fileId;
        Length = length;
        Metadata = metadata;
        IsRestart = isRestart;
    }

    /// <summary>The partition the upload will belong to.</summary>
    public string Partition { get; }

    /// <summary>The client-chosen upload id.</summary>
    public string FileId { get; }

    /// <summary>The declared total length, or <see langword="null"/> when the client did not declare it.</summary>
    public long? Length { get; }

    /// <summary>Metadata sent with the creation (empty when none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether an existing upload with the same id is being restarted from byte 0.</summary>
    public bool IsRestart { get; }
}

/// <summary>Context of <see cref="ResumableUploadEvents.OnProgressAsync"/>.</summary>
public sealed class UploadProgressContext : UploadEventContext
{
    internal UploadProgressContext(HttpContext? httpContext, UploadRecord upload, CancellationToken cancellationToken)
        : base(httpContext, cancellationToken) => Upload = upload;

    /// <summary>The upload with its newly published offset.</summary>
    public UploadRecord Upload { get; }
}

/// <summary>Context of <see cref="ResumableUploadEvents.OnCompletedAsync"/>.</summary>
public sealed class UploadCompletedContext : UploadEventContext
{
    private readonly IUploadDataStore _dataStore;

    internal UploadCompletedContext(HttpContext? httpContext, UploadRecord upload, IUploadDataStore dataStore, CancellationToken cancellationToken)
        : base(httpContext, cancellationToken)
    {
        Upload = upload;
        _dataStore = dataStore;
    }

    /// <summary>The finished upload.</summary>
    public UploadRecord Upload { get; }

    /// <summary>Opens the finished upload's bytes for reading. Dispose the stream when done.</summary>
    public async ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken = default)
        => await _dataStore.OpenReadAsync(Upload.Key, cancellationToken).ConfigureAwait(false)
           ?? throw new InvalidOperationException("The upload's bytes are no longer in the data store.");
}

/// <summary>Context of <see cref="ResumableUploadEvents.OnDeletedAsync"/>.</summary>
public sealed class UploadDeletedContext : UploadEventContext
{
    internal UploadDeletedContext(HttpContext? httpContext, UploadRecord upload, UploadDeletionReason reason, CancellationToken cancellationToken)
        : base(httpContext, cancellationToken)
    {
        Upload = upload;
        Reason = reason;
    }

    /// <summary>The removed upload as it was last stored.</summary>
    public UploadRecord Upload { get; }

    /// <summary>Why it was removed.</summary>
    public UploadDeletionReason Reason { get; }
}
