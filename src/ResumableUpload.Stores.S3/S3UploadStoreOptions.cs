namespace ResumableUpload.Stores.S3;

/// <summary>
/// Where and how the S3 data store keeps upload bytes. Bound from the <c>ResumableUploads:S3</c> configuration section
/// and validated at start-up.
/// </summary>
public sealed class S3UploadStoreOptions
{
    /// <summary>The configuration section the options bind from: <c>ResumableUploads:S3</c>.</summary>
    public const string SectionName = "ResumableUploads:S3";

    /// <summary>The smallest part S3 accepts (except the last one of an upload): 5 MiB.</summary>
    public const int MinimumAllowedPartSize = 5 * 1024 * 1024;

    /// <summary>The largest <see cref="MinimumPartSize"/> accepted: 1 GiB (each writer buffers one part).</summary>
    public const int MaximumAllowedPartSize = 1024 * 1024 * 1024;

    /// <summary>The bucket that holds the uploads. Required.</summary>
    public string? BucketName { get; set; }

    /// <summary>
    /// Prepended to every object name the store writes (default <c>"uploads/"</c>), so several applications can share a
    /// bucket. May be empty.
    /// </summary>
    public string KeyPrefix { get; set; } = "uploads/";

    /// <summary>
    /// The endpoint of an S3-compatible server (for example <c>http://127.0.0.1:9000</c>). <see langword="null"/>
    /// (the default) means AWS S3 in <see cref="Region"/>.
    /// </summary>
    public string? ServiceUrl { get; set; }

    /// <summary>
    /// The region: the AWS region (for example <c>eu-west-1</c>), or the region requests are signed for with
    /// <see cref="ServiceUrl"/> (default <c>us-east-1</c> there). <see langword="null"/> (the default) leaves AWS's region
    /// to the SDK (the <c>AWS_REGION</c> environment variable or profile).
    /// </summary>
    public string? Region { get; set; }

    /// <summary>
    /// Path-style addressing (<c>http://host/bucket/key</c>) instead of virtual-hosted style. Default
    /// <see langword="false"/>; most S3-compatible servers need <see langword="true"/>.
    /// </summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>The access key. With <see cref="SecretKey"/>; when both are <see langword="null"/> (the default) the SDK's default credential chain is used.</summary>
    public string? AccessKey { get; set; }

    /// <summary>The secret key. With <see cref="AccessKey"/>; <see langword="null"/> by default.</summary>
    public string? SecretKey { get; set; }

    /// <summary>Creates the bucket on first use when it does not exist. Default <see langword="false"/>.</summary>
    public bool CreateBucketIfMissing { get; set; }

    /// <summary>
    /// The size of the parts of the multipart uploads, and so the most bytes a writer buffers (default and minimum
    /// 5 MiB, at most 1 GiB). Bytes below it are kept in a small tail object until they can form a part. When an upload
    /// declares its length and would need more than <see cref="MaximumPartCount"/> parts, larger parts are used.
    /// </summary>
    public int MinimumPartSize { get; set; } = MinimumAllowedPartSize;

    /// <summary>
    /// The most parts one multipart upload may have (default 10,000, the AWS limit; OpenStack Swift's s3api allows 1,000
    /// unless its <c>max_upload_part_num</c> is raised). An upload of unknown length can hold at most
    /// <see cref="MaximumPartCount"/> × <see cref="MinimumPartSize"/> bytes.
    /// </summary>
    public int MaximumPartCount { get; set; } = 10_000;
}
