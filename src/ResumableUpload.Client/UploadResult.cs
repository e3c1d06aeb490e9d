namespace ResumableUpload.Client;

/// <summary>
/// The outcome of a finished upload: where it lives and what the server said when it completed (its processing
/// result, when the server sends one).
/// </summary>
public sealed class UploadResult
{
    internal UploadResult(UploadProtocol protocol, Uri? location, string? fileId, long length, int? statusCode, string? contentType, string? body)
    {
        Protocol = protocol;
        Location = location;
        FileId = fileId;
        Length = length;
        StatusCode = statusCode;
        ContentType = contentType;
        Body = body;
    }

    /// <summary>The protocol the upload used.</summary>
    public UploadProtocol Protocol { get; }

    /// <summary>The upload resource (tus, IETF); <see langword="null"/> for the X-File-Id protocol.</summary>
    public Uri? Location { get; }

    /// <summary>The upload id of the X-File-Id protocol; <see langword="null"/> for tus and IETF.</summary>
    public string? FileId { get; }

    /// <summary>The length of the uploaded file in bytes.</summary>
    public long Length { get; }

    /// <summary>
    /// The status code of the response that completed the upload, or <see langword="null"/> when the upload was
    /// found complete on resumption (the completing response was lost, so there is no result body).
    /// </summary>
    public int? StatusCode { get; }

    /// <summary>The media type of the completing response's body, if it had one.</summary>
    public string? ContentType { get; }

    /// <summary>The completing response's body as text (for example the server's JSON processing result), if any.</summary>
    public string? Body { get; }
}
