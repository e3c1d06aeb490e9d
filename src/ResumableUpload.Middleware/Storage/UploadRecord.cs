namespace ResumableUpload.Middleware.Storage;

/// <summary>
/// What the server knows about one upload: who owns it, how many bytes are durably stored, how long it is
/// and when it expires. Records are immutable; stores save and return whole records.
/// </summary>
public sealed record UploadRecord
{
    /// <summary>The store key: a lowercase hexadecimal SHA-256 derived from <see cref="Partition"/> and <see cref="FileId"/>. Never a client string.</summary>
    public required string Key { get; init; }

    /// <summary>The partition (owner scope) the upload belongs to, as produced by the partition resolver.</summary>
    public required string Partition { get; init; }

    /// <summary>The client-chosen upload id (for example the <c>X-File-Id</c> header). Untrusted; stored for diagnostics only.</summary>
    public required string FileId { get; init; }

    /// <summary>Bytes durably stored and published. Never exceeds the bytes the data store holds.</summary>
    public long Offset { get; init; }

    /// <summary>The declared total length, or <see langword="null"/> while it is unknown.</summary>
    public long? Length { get; init; }

    /// <summary>Whether all bytes have arrived.</summary>
    public bool IsCompleted { get; init; }

    /// <summary>When the upload was created (or last restarted from byte 0).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When bytes were last published.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the record and its bytes may be removed.</summary>
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Whether this upload is a part that a later upload will be assembled from (tus <c>Upload-Concat: partial</c>).</summary>
    public bool IsPartial { get; init; }

    /// <summary>
    /// For an upload assembled from parts (tus <c>Upload-Concat: final</c>), the ids of its parts in order;
    /// otherwise <see langword="null"/>. Such an upload receives no bytes of its own.
    /// </summary>
    public IReadOnlyList<string>? Parts { get; init; }

    /// <summary>The parts as the client named them at creation (for example their URLs), so a protocol can echo them; otherwise <see langword="null"/>.</summary>
    public IReadOnlyList<string>? PartReferences { get; init; }

    /// <summary>
    /// A digest of the whole upload declared by the client at creation (for example RFC 9530 <c>Repr-Digest</c>), as
    /// <c>algorithm:Base64</c> with a tus algorithm name (<c>sha256</c>, <c>sha512</c>); checked when the upload
    /// completes. <see langword="null"/> when none was declared.
    /// </summary>
    public string? RepresentationDigest { get; init; }

    /// <summary>
    /// The <see cref="IUploadLease.FencingToken"/> of the lease under which the record was saved, or 0 when the lock
    /// provider grants no leases. A fencing state store refuses to replace a record with one of a lower token.
    /// </summary>
    public long FencingToken { get; init; }

    /// <summary>Optional metadata supplied at creation (for example a file name). Empty when none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EmptyMetadata;

    internal static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>(0);
}
