namespace ResumableUpload.Stores.AzureBlob;

/// <summary>
/// Options of the Azure Blob Storage data store, bound from the <c>ResumableUploads:AzureBlob</c> configuration
/// section (<see cref="SectionName"/>) and validated at start-up.
/// </summary>
public sealed class AzureBlobUploadStoreOptions
{
    /// <summary>The configuration section the options bind from: <c>ResumableUploads:AzureBlob</c>.</summary>
    public const string SectionName = "ResumableUploads:AzureBlob";

    /// <summary>
    /// The Azure Storage connection string (for example <c>DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...</c>
    /// or a SAS connection string). Required unless the store is registered with a <c>BlobContainerClient</c>.
    /// Default: <see langword="null"/>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The container that holds the uploads' blobs (3 to 63 lowercase letters, digits and single hyphens). Required
    /// unless the store is registered with a <c>BlobContainerClient</c>. Default: <see langword="null"/>.
    /// </summary>
    public string? ContainerName { get; set; }

    /// <summary>
    /// Put before every upload key to form the blob name, so several apps (or environments) can share one container.
    /// Default: <c>"uploads/"</c>.
    /// </summary>
    public string BlobPrefix { get; set; } = "uploads/";

    /// <summary>Whether the store creates the container on first use when it does not exist. Default: <see langword="false"/>.</summary>
    public bool CreateContainerIfMissing { get; set; }

    /// <summary>
    /// The Blob service REST API version to speak, as <c>2026-06-06</c> or <c>V2026_06_06</c>; <see langword="null"/> (the
    /// default) uses the newest version the Azure SDK knows. Pin it when the server is older than the SDK (for example
    /// the Azurite emulator). Ignored when the store is registered with a <c>BlobContainerClient</c>.
    /// </summary>
    public string? ServiceVersion { get; set; }

    /// <summary>
    /// The most bytes a writer buffers before it stages them as a block, in bytes (64 KiB to 256 MiB). Every flush also
    /// ends a block, so blocks are often smaller. Each writing request holds one buffer of this size.
    /// Default: 4 MiB (4194304).
    /// </summary>
    public int BlockSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// How often the Azure SDK retries a failed request (0 to 10) before the store reports the failure (the engine
    /// then answers 503). Ignored when the store is registered with a <c>BlobContainerClient</c>. Default: 3.
    /// </summary>
    public int MaxRetries { get; set; } = 3;
}
