namespace ResumableUpload.Client;

/// <summary>
/// Keeps what a client needs to resume an unfinished upload after a restart, keyed by
/// <see cref="UploadResumeRecord.Key"/>. The default is <see cref="JsonFileUploadResumeStore"/>.
/// </summary>
public interface IUploadResumeStore
{
    /// <summary>The record of <paramref name="key"/>, or <see langword="null"/>.</summary>
    /// <param name="key">The record key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<UploadResumeRecord?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Adds or replaces a record.</summary>
    /// <param name="record">The record.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask SetAsync(UploadResumeRecord record, CancellationToken cancellationToken = default);

    /// <summary>Removes the record of <paramref name="key"/>, if any.</summary>
    /// <param name="key">The record key.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every record: the unfinished uploads this store knows of.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<UploadResumeRecord>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>The resume state of one unfinished upload.</summary>
public sealed class UploadResumeRecord
{
    /// <summary>The key: the source's fingerprint with the protocol and endpoint.</summary>
    public required string Key { get; init; }

    /// <summary>The protocol of the upload.</summary>
    public required UploadProtocol Protocol { get; init; }

    /// <summary>The endpoint the upload was started at.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The upload resource (tus, IETF), or <see langword="null"/> before it is created and for X-File-Id.</summary>
    public string? Location { get; init; }

    /// <summary>The X-File-Id upload id, or <see langword="null"/>.</summary>
    public string? FileId { get; init; }

    /// <summary>The file's name.</summary>
    public required string Name { get; init; }

    /// <summary>The file's length.</summary>
    public required long Length { get; init; }

    /// <summary>When the upload was started.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}
