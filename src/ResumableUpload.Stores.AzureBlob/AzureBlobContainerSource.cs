using Azure.Storage.Blobs;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>Where the store's container client comes from: the host's factory, or (when none) the options' connection string.</summary>
internal sealed class AzureBlobContainerSource(Func<IServiceProvider, BlobContainerClient>? factory)
{
    public Func<IServiceProvider, BlobContainerClient>? Factory { get; } = factory;

    /// <summary>A container client built from <paramref name="options"/> (connection string, container, service version, retries).</summary>
    public static BlobContainerClient FromOptions(AzureBlobUploadStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = options.ServiceVersion is { } text && AzureBlobUploadStoreOptionsValidator.TryParseServiceVersion(text, out var version)
            ? new BlobClientOptions(version)
            : new BlobClientOptions();
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        return new BlobServiceClient(options.ConnectionString, clientOptions).GetBlobContainerClient(options.ContainerName);
    }
}
