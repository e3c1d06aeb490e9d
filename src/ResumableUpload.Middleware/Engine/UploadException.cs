namespace ResumableUpload.Middleware.Engine;

/// <summary>The failures the engine and the protocol fronts report. <see cref="Http.ProblemResponses"/> maps them to HTTP in one place.</summary>
internal enum UploadError
{
    /// <summary>400: a header is missing or malformed.</summary>
    InvalidHeader,

    /// <summary>403: the partition resolver refused the request.</summary>
    Forbidden,

    /// <summary>404: no such (finished) upload.</summary>
    NotFound,

    /// <summary>409: the start byte is not the stored count.</summary>
    OffsetMismatch,

    /// <summary>409: the declared length differs from the stored one.</summary>
    LengthMismatch,

    /// <summary>409: bytes were sent to an upload that already has all of its bytes.</summary>
    AlreadyCompleted,

    /// <summary>413: the body would go past the declared length or the configured maximum.</summary>
    TooLarge,

    /// <summary>423: another request is writing this upload.</summary>
    Locked,

    /// <summary>4xx chosen by an event handler.</summary>
    Rejected,

    /// <summary>410: the upload expired (or was removed) and the server still remembers it.</summary>
    Gone,

    /// <summary>412: the client speaks a protocol version the server does not.</summary>
    UnsupportedVersion,

    /// <summary>415: the request body has the wrong content type.</summary>
    UnsupportedMediaType,

    /// <summary>460: the body does not match the checksum the client sent (tus); the chunk is discarded.</summary>
    ChecksumMismatch,

    /// <summary>A newer request for the upload took over; the superseded request's connection is closed.</summary>
    Superseded,

    /// <summary>503: a store failed.</summary>
    StorageUnavailable,

    /// <summary>507: the data store is out of space.</summary>
    InsufficientStorage,
}

/// <summary>A failure the client is told about (never a 500).</summary>
internal sealed class UploadException : Exception
{
    public UploadException(UploadError error, string detail, Exception? inner = null)
        : base(detail, inner)
    {
        Error = error;
    }

    public UploadError Error { get; }

    /// <summary>The stored count, for offset conflicts.</summary>
    public long? CurrentOffset { get; init; }

    /// <summary>The header at fault, for 400s.</summary>
    public string? Header { get; init; }

    /// <summary>The status code chosen by an event handler (<see cref="UploadError.Rejected"/>) or by a protocol front that answers this error differently.</summary>
    public int? StatusCode { get; init; }

    /// <summary>A problem type URI a protocol defines for this failure (for example the IETF draft's), instead of the package's own.</summary>
    public string? ProblemType { get; init; }

    /// <summary>Extra numeric members of the problem details (for example <c>expected-offset</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, long>>? Members { get; init; }
}
